"""Every limit the web chat enforces, in one place, each with where its value comes from.

Measurements were taken on the development machine (2 shared CPU cores, the bundled
all-MiniLM-L6-v2 OpenVINO int8 model); see docs/security.md for the commands.
"""

from __future__ import annotations

# -- request bodies ----------------------------------------------------------------------------

# Any request other than an upload or a login. The largest legitimate one is a chat turn, which
# sends the conversation shown so far: measured at about 3 KB per turn with 10 sources, and at
# most about 10 KB for a 1,000-character question of HTML-escaped symbols. With MAX_CHAT_TURNS
# that stays under 0.5 MB; 1 MB leaves room and still refuses a 50 MB question before reading it.
MAX_BODY_BYTES = 1_000_000
# A login form holds a name and a password: a few hundred bytes, multipart boundaries included.
MAX_LOGIN_BODY_BYTES = 16_384
# Turns kept in the conversation (older ones drop off the top), so a chat turn's body stays
# under MAX_BODY_BYTES (50 turns x at most about 10 KB) however long a conversation runs.
MAX_CHAT_TURNS = 50

# -- uploads -----------------------------------------------------------------------------------

# One file: the library's own default (`qa index --max-file-mb 20`), counted in bytes like it.
MAX_UPLOAD_BYTES = 20_000_000
# One upload (the files picked together): no more than one maximal file, so a batch of files
# cannot cost more than one file may. Indexing ran at about 130 s per MB of short articles here
# (100 articles of 0.5 KB: 7.6 s; 500: 35.6 s), so this already allows a long re-index; the
# per-client rate below bounds how often one client can ask for it.
MAX_UPLOAD_TOTAL_BYTES = 20_000_000
# Multipart framing around the files of one upload request (boundaries and part headers, about
# 200 bytes a file): what the upload route may receive beyond MAX_UPLOAD_TOTAL_BYTES.
MAX_UPLOAD_FRAMING_BYTES = 200_000
# Files in one upload. Reasoned: a reader adding articles by hand picks a handful; bulk imports
# belong on the server (`qa index`), which has no such limit.
MAX_UPLOAD_FILES = 20
# Articles in one upload (a .jsonl counts one per line). Measured: 500 one-passage articles took
# 35.6 s to index, 100 took 7.6 s; 1,000 keeps one upload near a minute of indexing, where the
# review's 100,000-line file took 267 s and slowed every later upload to 45-58 s.
MAX_UPLOAD_ARTICLES = 1_000
# Upload requests one client (one IP address) may send per window. Reasoned: a few uploads in a
# sitting is normal use; 20 an hour is far above it and bounds what one address can make the
# server index (at most 20 x MAX_UPLOAD_TOTAL_BYTES an hour). Clients behind one proxy share it.
UPLOAD_REQUESTS_PER_CLIENT = 20
UPLOAD_WINDOW_S = 3600.0
# Indexed articles an upload's duplicates are named by, at most, in its refusal.
MAX_DUPLICATES_NAMED = 3

# -- login -------------------------------------------------------------------------------------

# Failed logins are remembered this long. 15 minutes, the lockout period NIST SP 800-63B and the
# OWASP authentication cheat sheet use as their example.
LOGIN_WINDOW_S = 900.0
# Failures of one user name within the window before that name is locked for LOGIN_LOCKOUT_S
# (the 6th attempt is refused, right password or not): at most 5 guesses per 15 minutes, 480 a
# day, where the review made 500 in one second.
LOGIN_FAILURES_PER_NAME = 5
# Failures of all names together within the window before every login is locked: guessing
# the name as well as the password cannot get more than 50 tries per window. NIST SP 800-63B
# asks for no more than 100 consecutive failures.
LOGIN_FAILURES_OVERALL = 50
LOGIN_LOCKOUT_S = 900.0
# The wait before answering a login attempt doubles with each recent failure of its name
# (0.1, 0.2, 0.4, 0.8 s) and with every LOGIN_FAILURES_OVERALL / LOGIN_FAILURES_PER_NAME = 10
# failures overall, up to LOGIN_MAX_DELAY_S: a mistyped password costs a person a blink, a
# guessing loop on one connection slows down at once.
LOGIN_BASE_DELAY_S = 0.1
LOGIN_MAX_DELAY_S = 5.0

# Clients or user names remembered at most by one rate limit; past this, the ones with nothing
# in their window are forgotten first. Reasoned: a few hundred bytes each, so about 10 MB at
# most however many addresses or names a flood uses.
MAX_TRACKED_KEYS = 20_000

# -- what the server echoes --------------------------------------------------------------------

# A bad value quoted back in an error message is cut to this many characters (a date is 10).
MAX_ECHO_CHARS = 40
