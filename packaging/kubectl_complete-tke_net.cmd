@echo off
rem Shell completion for kubectl tke-net (kubectl 1.26 or later): kubectl runs this file, found on PATH.
"%~dp0kubectl-tke_net.exe" __complete %*
