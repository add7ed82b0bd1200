"""GPU inference kernels, each with a pure-torch reference of the same signature.

A dispatcher picks the Triton kernel for CUDA tensors and the reference everywhere else.
"""

from kernels.sum_layer import sum_layer, sum_layer_reference

__all__ = ["sum_layer", "sum_layer_reference"]
