-- Claim a staff member's ACK code for an escalation (ackcode.lua).
-- KEYS[1] the staff member's codes hash; ARGV[1] escalation id.
return claimCode(KEYS[1], ARGV[1])
