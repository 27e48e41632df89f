# The shared ready line on the chip: every slave pulls one open-drain GPIO low
# while it holds a result; a falling edge sets a ThreadSafeFlag from the pin
# interrupt, so the rig polls only when some slave is done.
import asyncio

from machine import Pin


class PinReady:
    def __init__(self, pin):
        self.pin = pin
        self._flag = asyncio.ThreadSafeFlag()
        pin.irq(self._edge, Pin.IRQ_FALLING)

    def _edge(self, pin):
        self._flag.set()  # the only thing safe to do in an IRQ

    def value(self):
        return self.pin.value()

    async def wait_low(self):
        if self.pin.value():
            await self._flag.wait()
