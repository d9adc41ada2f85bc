"""Success-rate policy: pause, probe and resume pairs on the Wilson lower bound."""
