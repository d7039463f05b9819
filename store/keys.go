package store

// Key scheme. Every key CareCheck writes is built here.
//
//	carecheck:schema            schema version
//	apikey:<sha256 hex>         "<agency id> <key id>": who an API key authenticates
//	{a:<agency>}:keys           the agency's API keys: key id → record (JSON: name, prefix, hash, created, revoked)
//	{a:<agency>}:audit          the agency's configuration changes (stream, entry id = time; trimmed by MINID to its retention)
//	{a:<agency>}:keys:used      key id → last use (unix ms), written at most once a minute per key and process
//	agencies                    sorted set of agency ids (lex)
//	{a:<agency>}:agency         agency record (JSON)
//	{a:<agency>}:cm:<id>        case manager record (JSON)
//	{a:<agency>}:cms            case manager ids (lex sorted set)
//	{a:<agency>}:clients        client ids (lex sorted set)
//	{c:<client>}:client         client record (compact JSON: clientRecord)
//	{c:<client>}:sched          the client's schedules (compact JSON by id: scheduleRecord)
//	owner:<channel>:<to>:<from> who owns an inbound address: "client:<id>" or "staff:<agency>:<id>"
//	owner:sms:agency:<agency>:<phone>  who owns a phone in the phone space of an agency with its own SMS identity
//	smsident:<number or MG sid> the agency whose own SMS identity holds that number or Messaging Service
//	authfail:<source>           failed authentications from a source address (hash: n, reset, lock)
//	{a:<agency>}:safety-asked:<client>  until when (unix ms) the client is not asked the safety question again
//	{a:<agency>}:staffemail:<email>  the agency's staff member a console email signs in: "staff:<agency>:<id>" (staff.go)
//	staffemail-agencies:<email> the agencies where that email is bound (set): where a sign-in looks
//	staffemail:<email>          legacy global binding (before emails were per agency): read at sign-in, released, never written
//	{a:<agency>}:cred:<staff>   a staff member's console secrets: argon2id hash, TOTP secret (JSON)
//	invite:<sha256 hex>         a console invitation (JSON), single use, expires after 72 h
//	{a:<agency>}:invite-of:<staff>  the hash of a staff member's newest invitation
//	session:<sha256 hex>        a console session (JSON), under the hash of its cookie's id
//	{a:<agency>}:sessions:<staff>   the hashes of a staff member's sessions (set)
//	{a:<agency>}:totp-used:<staff>  the newest TOTP time step a staff member used (replays refused)
//	{a:<agency>}:rot:<id>       an on-call rotation (JSON, rotations.go)
//	{a:<agency>}:rots           the agency's rotation ids (lex sorted set)
//	{a:<agency>}:calling:<staff>  the alert call ringing or in progress to a staff member: "<CallSid> <unix ms placed>",
//	                            "<CallSid> answered", or "<alert> <unix ms>" while it is being placed (calls.go)
//	{a:<agency>}:esc:<id>, :escs, :escs:unresolved, :escs:indexed, :escs:client:<client>, :esc-open:<client>, :ack:<staff>  escalations (escalation.go)

func agencyTag(id string) string              { return "{a:" + id + "}" }
func clientTag(id string) string              { return "{c:" + id + "}" }
func keyAgency(id string) string              { return agencyTag(id) + ":agency" }
func keyAgencies() string                     { return "agencies" }
func keyAPIKey(hash string) string            { return "apikey:" + hash }
func keyAPIKeys(agency string) string         { return agencyTag(agency) + ":keys" }
func keyAPIKeysUsed(agency string) string     { return agencyTag(agency) + ":keys:used" }
func keyAudit(agency string) string           { return agencyTag(agency) + ":audit" }
func keyCaseManager(agency, id string) string { return agencyTag(agency) + ":cm:" + id }
func keyCaseManagers(agency string) string    { return agencyTag(agency) + ":cms" }
func keyClients(agency string) string         { return agencyTag(agency) + ":clients" }
func keyClient(id string) string              { return clientTag(id) + ":client" }

// keyOwner maps an inbound address (channel, our address, theirs) to its person.
func keyOwner(channel, to, from string) string { return "owner:" + channel + ":" + to + ":" + from }

// keyAuthFailures counts failed authentications from one source address.
func keyAuthFailures(source string) string { return "authfail:" + source }

// keySafetyAsked marks that a client was asked the safety question; it
// lives in the agency's hash slot, beside the client's open-escalation
// pointer, so one script checks both (ClaimSafetyQuestion).
func keySafetyAsked(agency, client string) string {
	return agencyTag(agency) + ":safety-asked:" + client
}

// keyPhoneOwner is the owner of a phone that texts our sending number
// ("default" when none is configured).
func keyPhoneOwner(number, phone string) string {
	if number == "" {
		number = "default"
	}
	return keyOwner("sms", number, phone)
}

// keyAgencyPhoneOwner is the owner of a phone among the people of an
// agency with its own SMS identity: its own phone space, which no other
// agency's claims ever read.
func keyAgencyPhoneOwner(agency, phone string) string {
	return keyOwner("sms", "agency:"+agency, phone)
}

// keySMSIdentity names the agency that claimed a number or a Messaging
// Service as (part of) its own SMS identity.
func keySMSIdentity(addr string) string { return "smsident:" + addr }

// keyChatOwner is the owner of a Telegram chat with our bot.
func keyChatOwner(chat string) string { return keyOwner("telegram", "bot", chat) }

// Markers that something happened once within a window (scriptOnce):
//
//	once:seen:<channel>:<provider id>   a staff or unknown sender's message was taken (re-deliveries dropped)
//	once:unknown:<channel>:<address>    an unknown sender got the "who are you" reply today
func keyOnce(key string) string { return "once:" + key }
func keyProviderSeen(channel, providerID string) string {
	return keyOnce("seen:" + channel + ":" + providerID)
}
func keyUnknownAnswered(channel, addr string) string {
	return keyOnce("unknown:" + channel + ":" + addr)
}
