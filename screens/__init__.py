"""The touchscreen app (Kivy): one screen per visit state.  It talks to :mod:`firmware`'s controller alone."""
