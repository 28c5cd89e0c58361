"""The Qt-free engine, usable from a script or a notebook; its layers are described in docs/architecture.md."""
