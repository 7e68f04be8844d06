#!/usr/bin/env bash
# Installs the Debian packages the chat needs, and only those that are missing:
# MariaDB (the real database the server and its tests use), Redis (the bus between the
# server processes of a cluster, and its tests), Xvfb + xdotool (GUI tests and
# screenshots), CJK and emoji fonts (so Tk can show every message), and Tk for Python.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v xdotool >/dev/null 2>&1 || need+=(xdotool)
command -v import >/dev/null 2>&1 && import -version 2>/dev/null | grep -q ImageMagick || need+=(imagemagick)
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || need+=(fonts-noto-color-emoji)
python3 -c 'import tkinter' >/dev/null 2>&1 || need+=(python3-tk)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "system packages: installing ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
