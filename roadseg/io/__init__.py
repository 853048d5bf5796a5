"""Small I/O helpers shared by every command that writes files."""

from roadseg.io.atomic import atomic_output, check_output_path

__all__ = ["atomic_output", "check_output_path"]
