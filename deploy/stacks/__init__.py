"""The app's stacks: KeysStack (per region), GlobalStack (leader region), RegionStack (per
region), in that deploy order (deploy/app.py)."""
