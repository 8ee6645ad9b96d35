#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (`playwright install`
# does not work here). As root, or through sudo when that works without a password; otherwise
# say what to run and carry on (the browser tests then skip with the same command).
set -u
[[ -x /usr/bin/chromium ]] && exit 0
sudo=""
if [[ "$(id -u)" -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "chromium is missing and this user cannot install it; run:" \
             "sudo apt-get install -y chromium  (the browser tests are skipped until then)" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null; then
    echo "chromium is missing and there is no apt-get here; install chromium so that" \
         "/usr/bin/chromium exists (the browser tests are skipped until then)" >&2
    exit 0
fi
echo "installing chromium for the browser tests (apt-get, once)" >&2
$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    || echo "installing chromium failed; run: sudo apt-get install -y chromium" >&2
exit 0
