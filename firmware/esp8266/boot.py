# Runs at every reset and at every mpremote soft reset (which skips main.py):
# nothing here may block or start mining. main.py starts the rig.
