"""The Step-through tab: one training step, every number and its formula."""
