"""The browser editor of masks and looks (``photostyle ui``).

Load a content and a style photo, start the masks from none, ``cluster`` or ``auto``, paint and
erase them in the DPST colours, see the weight-free result after every edit, run the full method
with live progress, and download the result, the masks and the report.

Rooms: :mod:`.settings` (limits and folders, every default once), :mod:`.files` (uploads and the
input folder, with the command line's checks), :mod:`.masks` (the painted label maps and their
canonical form), :mod:`.live` (the weight-free live result, one swappable call),
:mod:`.runner` (the full method in a worker thread), :mod:`.session` (one tab's state) and
:mod:`.app` (the Starlette app and its server; needs the ``ui`` extra). The page itself is
``static/`` (plain HTML, CSS and JavaScript, nothing from the network).
"""
