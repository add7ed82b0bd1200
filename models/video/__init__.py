"""Video codec: neural video representations (nerv mode: HNeRV-style per-video fit)."""
