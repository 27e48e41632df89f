# The shared ready line on the chip: every slave pulls one open-drain GPIO low
# while it holds a result. A falling edge wakes the rig from the pin interrupt
# (a soft IRQ on the ESP8266, run by the scheduler, so setting an Event is
# safe), and the rig polls only then.
import asyncio


class PinReady:
    def __init__(self, pin):
        self.pin = pin
        self._edge = asyncio.Event()
        pin.irq(self._falling, pin.IRQ_FALLING)

    def _falling(self, pin):
        self._edge.set()

    def value(self):
        return self.pin.value()

    async def wait_low(self):
        while self.pin.value():
            self._edge.clear()
            if not self.pin.value():
                return
            await self._edge.wait()
