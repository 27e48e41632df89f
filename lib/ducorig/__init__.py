# ducorig: Duino-Coin mining-rig controller (device package).
# Runs on the ESP8266 MicroPython port, the MicroPython unix port and CPython.
# Keep this file empty of imports: every module costs RAM on the ESP8266.
VERSION = "0.1.0"
