"""slpdiff's grammar, shipped as package data (``slp.lark``) so that it is found wherever slpdiff is installed."""
