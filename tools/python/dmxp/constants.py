# SPDX-License-Identifier: MIT
"""The constants of include/uapi/linux/dmxp.h and include/dmxp.h."""
import enum

VERSION = "1.4.3"               #: the file VERSION of the tree: the library's version
MAX_CHANNELS = 256              #: channel ids are 0..255
MAX_PAYLOAD = 960               #: bytes of payload a message holds
SLOT_SIZE = 1088                #: bytes of ring memory per slot
CAPACITY_MIN = 2                #: slots; capacities are powers of two
CAPACITY_MAX = 1 << 24
DEFAULT_CAPACITY = 1024         #: slots of a channel created without a capacity
DEFAULT_REGION = "/dev/shm/dmxp_alloc"  #: the region when no path and no $DMXP_REGION
REGION_ENV = "DMXP_REGION"      #: environment variable naming the default region
DEFAULT_REGION_SIZE = 288 << 20  #: bytes of a region file created with size 0
KERNEL_DEVICE = "/dev/dmxp"     #: the kernel module's device ("/dev/dmxp:NAME")

# dmxp_region_open() flags
OPEN_CREATE = 1 << 0
OPEN_EXCL = 1 << 1
OPEN_RDONLY = 1 << 2

# struct dmxp_channel_entry.flags (ChannelInfo.flags)
CHAN_CREATED = 1 << 0
CHAN_BUSY = 1 << 1

# struct dmxp_msg_meta.flags (Meta.flags)
MSG_TOMBSTONE = 1 << 0

# dmxp_chan_arm() events
ARM_RECV = 1 << 0               #: wake me when a message arrives
ARM_SEND = 1 << 1               #: wake me when a slot is freed

# timeout_ns of the C blocking calls
TIMESTAMP_PRECISE = 0           #: sends stamp CLOCK_MONOTONIC (the default)
TIMESTAMP_COARSE = 1            #: sends stamp CLOCK_MONOTONIC_COARSE
TIMESTAMP_NONE = 2              #: sends stamp 0: "not stamped"

WAIT_FOREVER = -1
WAIT_NEVER = 0


class Runtime(enum.IntEnum):
    """enum dmxp_runtime: who sent a message (Meta.sender_runtime)."""
    UNKNOWN = 0
    C = 1
    RUST = 2
    PYTHON = 3
    KERNEL = 4
    GO = 5
    JAVA = 6
    OTHER = 0xFFFF
