"""The hardening battery (issue 4): races, crashes, hostile input and the wrong user."""
