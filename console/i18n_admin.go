package console

// adminTexts are the admin pages' strings (API keys, audit log), kept
// apart from i18n.go for its length and merged into texts at start.
var adminTexts = map[string]map[string]string{
	"en": {
		"nav_keys":          "API keys",
		"forbidden_title":   "Not for your role",
		"forbidden_reports": "Reports are for supervisors and admins. Ask your supervisor for the figures you need.",
		"nav_audit":         "Audit log",
		"keys_title":        "API keys",
		"key_name":          "Key name",
		"key_prefix":        "Starts with",
		"key_create":        "Create key",
		"key_created":       "New key:",
		"key_once":          "Copy this key now: it is shown this once and cannot be seen again.",
		"key_revoke":        "Revoke",
		"key_revoked":       "The key is revoked: requests with it are refused from now on.",
		"key_last":          "This is the agency's last API key: create another first.",
		"key_name_taken":    "A live key already has this name.",
		"keys_too_many":     "At most 50 live keys: revoke one first.",
		"created":           "Created",
		"last_used":         "Last used",
		"never":             "never",
		"audit_title":       "Audit log",
		"audit_empty":       "Nothing recorded yet.",
		"record":            "Record",
		"action":            "Action",
		"what_changed":      "What changed",
		"older":             "Older entries",
		"actor_api_key":     "API key",
		"actor_operator":    "Operator",
	},
	"es": {
		"nav_keys":          "Claves de API",
		"forbidden_title":   "No es para su función",
		"forbidden_reports": "Los informes son para supervisores y administradores. Pida a su supervisor las cifras que necesite.",
		"nav_audit":         "Registro de auditoría",
		"keys_title":        "Claves de API",
		"key_name":          "Nombre de la clave",
		"key_prefix":        "Empieza por",
		"key_create":        "Crear clave",
		"key_created":       "Clave nueva:",
		"key_once":          "Copie esta clave ahora: se muestra solo esta vez y no se puede volver a ver.",
		"key_revoke":        "Revocar",
		"key_revoked":       "La clave está revocada: desde ahora se rechazan las solicitudes con ella.",
		"key_last":          "Es la última clave de API de la agencia: cree otra primero.",
		"key_name_taken":    "Otra clave activa ya tiene este nombre.",
		"keys_too_many":     "Como máximo 50 claves activas: revoque una primero.",
		"created":           "Creada",
		"last_used":         "Último uso",
		"never":             "nunca",
		"audit_title":       "Registro de auditoría",
		"audit_empty":       "Aún no hay nada registrado.",
		"record":            "Registro",
		"action":            "Acción",
		"what_changed":      "Qué cambió",
		"older":             "Entradas anteriores",
		"actor_api_key":     "Clave de API",
		"actor_operator":    "Operador",
	},
}

func init() { addTexts(adminTexts) }

// addTexts merges a page group's strings into texts; a key defined twice
// stops the program at start.
func addTexts(more map[string]map[string]string) {
	for lang, strs := range more {
		for k, s := range strs {
			if _, dup := texts[lang][k]; dup {
				panic("console: string " + k + " defined twice")
			}
			texts[lang][k] = s
		}
	}
}
