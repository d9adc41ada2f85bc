"""Success-rate policy: pause, probe and resume pairs on evidence (the Wilson interval)."""
