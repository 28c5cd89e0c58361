"""Let others answer: many annotators answer one query batch from their phones.

- `consensus`: majority votes (ties and '?' as the user chooses), percent agreement,
  Krippendorff's alpha, each annotator's agreement with the consensus.
- `hub`: one annotator per device (new ones paced, per address and in all), which image goes
  to whom (k answers per image, never the same image twice to one person, leases that
  expire), and every answer into the session's journal before it is acknowledged.
- `server`: the aiohttp web server in a worker thread that serves the page and the API (the
  token, the Host header, limits per address that slow a crowd down and lock no class out).

Qt-free: the window parts are in `viscause_gui.gui.panels.share`.
"""
