"""The simulated I2C bus: virtual Pro Mini slaves (the ducorig protocol and the
seed's yaum protocol) on a loopback bus server that device code reaches through the
`ducorig.simi2c` shim (docs/i2c-protocol.md section 8)."""
