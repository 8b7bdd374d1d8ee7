"""Partner Vouchers: a Redis-backed voucher allocation service."""

__version__ = "0.1.0"
