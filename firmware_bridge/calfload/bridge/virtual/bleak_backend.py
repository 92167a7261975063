"""A bleak client backend that drives a bumble central on the virtual radio.

bleak accepts any ``BaseBleakClient`` subclass through ``BleakClient(...,
backend=...)``; this one maps bleak's calls onto bumble's GATT client so that the
bridge's real connect / discover / subscribe / write / disconnect code runs
unchanged against virtual sensors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble.device import Connection, Peer
from bumble.gatt import Characteristic

from calfload.bridge.virtual.radio import VirtualDeviceDetails

log = logging.getLogger(__name__)

_PROPERTY_NAMES: dict[int, str] = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}
_MTU: int = 247


class BumbleBleakClient(BaseBleakClient):
    """``BaseBleakClient`` over a :class:`~calfload.bridge.virtual.radio.VirtualRadio`."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        if not isinstance(address_or_ble_device, BLEDevice) or not isinstance(
            address_or_ble_device.details, VirtualDeviceDetails
        ):
            raise BleakError("the virtual backend needs a BLEDevice from a VirtualRadio")
        self._details: VirtualDeviceDetails = address_or_ble_device.details
        self._name = address_or_ble_device.name or self.address
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._mtu = 23
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        try:
            connection = await self._details.radio.connect(self._details.peripheral, self._timeout)
        except TimeoutError as exc:
            raise TimeoutError(
                f"virtual sensor {self._name} did not accept the connection"
            ) from exc
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        self._peer = peer
        self._mtu = await peer.request_mtu(_MTU)
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, _uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for char in service.characteristics:
                await char.discover_descriptors()
                props = [name for bit, name in _PROPERTY_NAMES.items() if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    _uuid_str(char.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: self._mtu - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for desc in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, _uuid_str(desc.type), bleak_char)
                    )
        self.services = collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        callback = self._disconnected_callback
        if callback is not None:
            callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        # A disconnect we asked for: bleak does not expect the callback for it.
        self._disconnected_callback, callback = None, self._disconnected_callback
        try:
            await connection.disconnect()
        finally:
            self._connection = None
            self._peer = None
            self._disconnected_callback = callback

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("virtual sensors need no pairing")

    async def unpair(self) -> None:
        raise NotImplementedError("virtual sensors need no pairing")

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self._name}")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        value = await self._require_peer().read_value(characteristic.obj)
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        value = await self._require_peer().read_value(descriptor.obj)
        return bytearray(value)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await self._require_peer().write_value(
            characteristic.obj, bytes(data), with_response=response
        )

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = on_value
        await self._require_peer().subscribe(characteristic.obj, on_value)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        subscriber = self._subscriptions.pop(characteristic.handle, None)
        await self._require_peer().unsubscribe(characteristic.obj, subscriber)


def _uuid_str(uuid: Any) -> str:
    """bumble UUID → bleak's lower-case 128-bit string form."""
    raw = bytes(reversed(uuid.uuid_128_bytes)).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
