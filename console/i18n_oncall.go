package console

// onCallTexts are the on-call page's strings, merged into texts at start.
var onCallTexts = map[string]map[string]string{
	"en": {
		"nav_oncall":      "On call",
		"oncall_title":    "On call",
		"oncall_now":      "On call now:",
		"oncall_since":    "since",
		"oncall_next":     "Next hand-offs",
		"oncall_from":     "From",
		"oncall_who":      "On call",
		"oncall_override": "override",
		"oncall_nobody":   "nobody yet",
		"oncall_problem":  "This rotation cannot be read; an admin should check it (GET /v1/rotations/{id}).",
		"oncall_empty":    "No on-call rotations yet. An admin sets them up through the API (POST /v1/rotations).",
	},
	"es": {
		"nav_oncall":      "De guardia",
		"oncall_title":    "De guardia",
		"oncall_now":      "De guardia ahora:",
		"oncall_since":    "desde",
		"oncall_next":     "Próximos cambios de turno",
		"oncall_from":     "Desde",
		"oncall_who":      "De guardia",
		"oncall_override": "sustitución",
		"oncall_nobody":   "nadie todavía",
		"oncall_problem":  "No se puede leer esta rotación; un administrador debe revisarla (GET /v1/rotations/{id}).",
		"oncall_empty":    "Todavía no hay rotaciones de guardia. Un administrador las crea con la API (POST /v1/rotations).",
	},
}

func init() { addTexts(onCallTexts) }
