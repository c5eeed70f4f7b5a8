"""The channels' rooms by name: the engine asks ``room(send.channel)``, never tests a name."""

from __future__ import annotations

from retargeting.channels import Channel
from retargeting.channels.base import ChannelRoom
from retargeting.channels.email import EMAIL
from retargeting.channels.sms import SMS

ROOMS: dict[Channel, ChannelRoom] = {Channel.SMS: SMS, Channel.EMAIL: EMAIL}


def room(channel: str) -> ChannelRoom:
    """The room of ``channel`` (a ``Channel`` value)."""
    return ROOMS[Channel(channel)]
