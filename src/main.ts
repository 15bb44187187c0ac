// placeholder until the daemon entry lands
process.exitCode = 0;
