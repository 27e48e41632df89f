"""The simulated I2C bus: virtual Pro Mini slaves (our dialect and the seed's
yaum dialect) on a loopback bus server that device code reaches through the
`ducorig.simbus` shim (docs/i2c-protocol.md section 8)."""
