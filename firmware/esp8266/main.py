# Mines headless from every reset; ducorig/autostart.py says how, and when
# not (the console's stop, a jumper from GPIO13 to GND).
from ducorig import autostart

autostart.main()
