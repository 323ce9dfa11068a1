"""Image refiners behind one protocol (host side; torch and diffusers are imported lazily)."""
