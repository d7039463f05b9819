package detect

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// TestTraps covers the known traps of docs/clinical.md ("Crisis language"), one table per
// trap so that a failure names the rule it broke.
func TestTraps(t *testing.T) {
	d := mustNew(t)
	type tc struct {
		text, lang string
		want       Level
		category   string // if set, the top signal's category
		person     string // if set, the top signal's person
		tense      string // if set, the top signal's tense
	}
	groups := []struct {
		name  string
		cases []tc
	}{
		{"idioms", []tc{
			{text: "this traffic is killing me", lang: "en", want: None},
			{text: "dying to see the game", lang: "en", want: None},
			{text: "killed it at work", lang: "en", want: None},
			{text: "i could just die of embarrassment", lang: "en", want: None},
			{text: "dead tired", lang: "en", want: None},
			{text: "that dress is to die for", lang: "en", want: None},
			{text: "just here to kill time", lang: "en", want: None},
			{text: "me muero de risa", lang: "es", want: None},
			{text: "me mata el tráfico", lang: "es", want: None},
			{text: "me quiero morir de la vergüenza", lang: "es", want: None},
			{text: "ran 10 kms this morning", lang: "en", want: None},
			{text: "cut myself shaving", lang: "en", want: None},
			{text: "me corté el pelo", lang: "es", want: None},
		}},
		// Spanish everyday uses of crisis phrases (es.txt's ignore lines
		// for threats said of an exam or a grandmother, kitchen cuts,
		// clothesline ropes, moving day, a roof being fixed), beside the
		// same phrases meant: those stay crisis.
		{"spanish everyday", []tc{
			{text: "el examen de mañana me va a matar de los nervios", lang: "es", want: None},
			{text: "mi abuela me mata si no voy a misa el domingo", lang: "es", want: None},
			{text: "compré una cuerda para tender la ropa en la azotea", lang: "es", want: None},
			{text: "ya tengo todo listo para la fiesta del niño", lang: "es", want: None},
			{text: "me corté picando cebolla", lang: "es", want: None},
			{text: "me pegué con la puerta del carro en la rodilla", lang: "es", want: None},
			{text: "no quiero vivir en esta colonia, hay mucho ruido", lang: "es", want: None},
			{text: "la voy a matar a besos a mi nieta", lang: "es", want: None},
			{text: "ando en el techo arreglando la antena", lang: "es", want: None},
			{text: "mi esposo me va a matar, esta afuera con un cuchillo", lang: "es", want: Crisis},
			{text: "me pegué contra la pared a propósito hasta sangrar", lang: "es", want: Crisis},
			{text: "compré una soga para colgarme", lang: "es", want: Crisis},
			{text: "estoy en el puente y quiero saltar", lang: "es", want: Crisis},
			{text: "ya tengo todo listo, la soga y la carta", lang: "es", want: Crisis},
		}},
		{"negation", []tc{
			{text: "I would never hurt myself", lang: "en", want: None},
			{text: "I'm not suicidal", lang: "en", want: None},
			{text: "i don't want to die", lang: "en", want: None},
			{text: "no me quiero morir", lang: "es", want: None},
			{text: "I have no plans to kill myself", lang: "en", want: None},
			{text: "suicidal thoughts: none", lang: "en", want: None},
			{text: "i don't want to live", lang: "en", want: Crisis},
			{text: "no quiero vivir", lang: "es", want: Crisis},
			{text: "no, no quiero vivir", lang: "es", want: Crisis},
			{text: "i don't want to be here anymore", lang: "en", want: Crisis},
			{text: "i don't want to wake up", lang: "en", want: Crisis},
			{text: "no, i want to die", lang: "en", want: Crisis},
			{text: "not fair i want to die", lang: "en", want: Crisis},
			{text: "i want to die no matter what", lang: "en", want: Crisis},
		}},
		{"slang and misspellings", []tc{
			{text: "kms", lang: "en", want: Crisis, category: "suicidal-ideation"},
			{text: "kys", lang: "en", want: Concern, category: "harm-to-others"},
			{text: "gonna unalive myself", lang: "en", want: Crisis},
			{text: "i wanna dieeee", lang: "en", want: Crisis},
			{text: "gonna end it", lang: "en", want: Crisis},
			{text: "ctb", lang: "en", want: Crisis},
			{text: "feeling suicdal", lang: "en", want: Crisis},
			{text: "so sucidal rn", lang: "en", want: Crisis},
			{text: "i'm going to kil myself", lang: "en", want: Crisis},
			{text: "I WANT TO KILL MY SELF", lang: "en", want: Crisis},
			{text: "i don t want to live", lang: "en", want: Crisis},
			{text: "kiero morir", lang: "es", want: Crisis},
			{text: "im thinkin bout killin myself", lang: "en", want: Crisis, category: "suicidal-ideation"},
			{text: "been cuttin myself again", lang: "en", want: Crisis},
			{text: "this traffic is killin me", lang: "en", want: None},
			{text: "no tengo fin de semana libre", lang: "es", want: None},
		}},
		{"methods outrank the word suicide", []tc{
			{text: "took all my pills", lang: "en", want: Crisis, category: "overdose"},
			{text: "swallowed a bottle of tylenol", lang: "en", want: Crisis, category: "overdose"},
			{text: "i took 30 advil", lang: "en", want: Crisis, category: "overdose"},
			{text: "💊💊💊", lang: "", want: Crisis, category: "overdose"},
			{text: "took like 20 💊", lang: "en", want: Crisis, category: "overdose"},
			{text: "me tomé todas las pastillas", lang: "es", want: Crisis, category: "overdose"},
			{text: "i took 2 tylenol for a headache", lang: "en", want: None},
			{text: "took my meds this morning", lang: "en", want: None},
			{text: "watching a show about suicide", lang: "en", want: Concern},
		}},
		{"preparatory acts", []tc{
			{text: "wrote a letter to my family for after i'm gone", lang: "en", want: Crisis, category: "preparatory-act"},
			{text: "bought a gun", lang: "en", want: Crisis, category: "preparatory-act"},
			{text: "giving away my things", lang: "en", want: Crisis},
			{text: "this is goodbye", lang: "en", want: Crisis},
			{text: "escribí una carta de despedida", lang: "es", want: Crisis},
		}},
		{"not safe", []tc{
			{text: "I'm not safe", lang: "en", want: Crisis, category: "not-safe"},
			{text: "no estoy a salvo", lang: "es", want: Crisis, category: "not-safe"},
			{text: "no estoy segura si voy mañana", lang: "es", want: None},
		}},
		{"person", []tc{
			{text: "my friend said she wants to kill herself", lang: "en", want: Concern, category: "other-at-risk", person: PersonThird},
			{text: "my brother is suicidal", lang: "en", want: Concern, category: "other-at-risk", person: PersonThird},
			{text: "mi amiga dice que se quiere morir", lang: "es", want: Concern, person: PersonThird},
			{text: "i want to kill him", lang: "en", want: Crisis, category: "harm-to-others", person: PersonFirst},
			{text: "lo voy a matar", lang: "es", want: Crisis, category: "harm-to-others"},
			{text: "kill myself", lang: "en", want: Crisis, person: PersonFirst},
		}},
		{"tense", []tc{
			{text: "i used to cut", lang: "en", want: Concern, category: "past-self-harm", tense: TensePast},
			{text: "i tried to kill myself when i was 15", lang: "en", want: Concern, category: "past-self-harm", tense: TensePast},
			{text: "i tried to kill myself last night", lang: "en", want: Crisis, tense: TensePresent},
			{text: "took all my pills an hour ago", lang: "en", want: Crisis, tense: TensePresent},
			{text: "i used to feel hopeless but now i'm good", lang: "en", want: None},
			{text: "antes me cortaba", lang: "es", want: Concern, tense: TensePast},
		}},
		{"concern", []tc{
			{text: "stopped my meds", lang: "en", want: Concern, category: "stopped-medication"},
			{text: "dejé mis pastillas", lang: "es", want: Concern, category: "stopped-medication"},
			{text: "used again", lang: "en", want: Concern, category: "relapse"},
			{text: "drinking again", lang: "en", want: Concern, category: "relapse"},
			{text: "i feel hopeless", lang: "en", want: Concern, category: "hopelessness"},
			{text: "i haven't stopped my meds", lang: "en", want: None},
		}},
		{"benign check-ins", []tc{
			{text: "7", lang: "en", want: None},
			{text: "yes", lang: "en", want: None},
			{text: "feeling ok today", lang: "en", want: None},
			{text: "", lang: "en", want: None},
			{text: "sí", lang: "es", want: None},
			// "rn" marks the moment in many crisis rows; busy right now
			// is no reason for the safety question.
			{text: "im home rn", lang: "en", want: None},
			{text: "at the gym rn", lang: "en", want: None},
			{text: "on the phone rn", lang: "en", want: None},
			{text: "ahorita ando en la calle", lang: "es", want: None},
		}},
		{"code switching", []tc{
			{text: "me siento fatal, i want to die", lang: "es", want: Crisis},
			{text: "i can't anymore, me quiero morir", lang: "en", want: Crisis},
			{text: "no aguanto más", lang: "", want: Concern},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				r := d.Detect(c.text, c.lang)
				if r.Level != c.want {
					t.Errorf("Detect(%q, %q).Level = %v; want %v (signals %v)", c.text, c.lang, r.Level, c.want, r.Signals)
					continue
				}
				if len(r.Signals) == 0 {
					if c.category != "" {
						t.Errorf("Detect(%q) has no signals; want category %s", c.text, c.category)
					}
					continue
				}
				top := r.Signals[0]
				if c.category != "" && top.Category != c.category {
					t.Errorf("Detect(%q) category = %s; want %s", c.text, top.Category, c.category)
				}
				if c.person != "" && top.Person != c.person {
					t.Errorf("Detect(%q) person = %s; want %s", c.text, top.Person, c.person)
				}
				if c.tense != "" && top.Tense != c.tense {
					t.Errorf("Detect(%q) tense = %s; want %s", c.text, top.Tense, c.tense)
				}
			}
		})
	}
}

func TestExplain(t *testing.T) {
	d := mustNew(t)
	r := d.Detect("I'm going to kill myself", "en")
	if len(r.Signals) == 0 {
		t.Fatalf("no signals")
	}
	got := r.Signals[0].Explain()
	want := "matched: 'kill myself' (first person, present)"
	if got != want {
		t.Errorf("Explain() = %q; want %q", got, want)
	}
	if got := (Signal{Match: "x"}).Explain(); got != "matched: 'x'" {
		t.Errorf("Explain() without person or tense = %q; want %q", got, "matched: 'x'")
	}
}

func TestLevelText(t *testing.T) {
	for _, l := range []Level{None, Concern, Crisis} {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%d): %v", l, err)
		}
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, l)
		}
	}
	if _, err := Level(7).MarshalText(); err == nil {
		t.Errorf("MarshalText(7) = nil error; want an error")
	}
	var l Level
	if err := l.UnmarshalText([]byte("urgent")); err == nil {
		t.Errorf("UnmarshalText(urgent) = nil error; want an error")
	}
	if got := Level(7).String(); got != "Level(7)" {
		t.Errorf("Level(7).String() = %q; want %q", got, "Level(7)")
	}
}

func TestResultJSON(t *testing.T) {
	d := mustNew(t)
	for _, c := range []struct {
		r    Result
		want string
	}{
		{d.Detect("hello", "en"), `{"level":"none","signals":[]}`},
		{Result{}, `{"level":"none","signals":[]}`},
		{d.Detect("i want to die", "en"), `{"level":"crisis","signals":[{"level":"crisis","category":"suicidal-ideation","match":"want to die","person":"first","tense":"present","lang":"en","source":"lexicon"}]}`},
	} {
		b, err := json.Marshal(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("json = %s; want %s", b, c.want)
		}
	}
}

func TestNewExtraPhrases(t *testing.T) {
	d := mustNew(t,
		Phrase{Text: "going to see grandpa", Level: Crisis, Lang: "en"}, // a client's known code phrase
		Phrase{Text: "Me Voy Al Río", Level: Concern},
	)
	for _, c := range []struct {
		text, lang string
		want       Level
	}{
		{"tonight i'm going to see grandpa", "en", Crisis},
		{"i'm not going to see grandpa", "en", None},
		{"creo que me voy al rio", "es", Concern},
		{"me voy al río", "en", Concern},
	} {
		// The agency's phrase gives its level at least; the learned stage
		// may read more into the message (a river can be a means).
		r := d.Detect(c.text, c.lang)
		if c.want == None {
			if r.Level != None {
				t.Errorf("Detect(%q).Level = %v; want none", c.text, r.Level)
			}
			continue
		}
		found := false
		for _, sg := range r.Signals {
			found = found || sg.Category == agencyCategory && sg.Level == c.want && sg.Source == SourceLexicon
		}
		if r.Level < c.want || !found {
			t.Errorf("Detect(%q) = %v %+v; want at least %v with an agency-phrase signal", c.text, r.Level, r.Signals, c.want)
		}
	}
	for _, bad := range []Phrase{
		{Text: "", Level: Crisis},
		{Text: " ?! ", Level: Crisis},
		{Text: "hello", Level: None},
		{Text: "hello", Level: Level(9)},
		{Text: "hello", Level: Concern, Lang: "fr"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) = nil error; want an error", bad)
		}
	}
}

func TestNormLang(t *testing.T) {
	for in, want := range map[string]string{"en": "en", "EN": "en", "es-MX": "es", "es_US": "es", "": "", "fr": "", "english": "", "e": ""} {
		if got := normLang(in); got != want {
			t.Errorf("normLang(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	d := mustNew(t)
	msgs := []string{"i want to die", "feeling ok", "me quiero morir", "took all my pills", strings.Repeat("ok ", 500)}
	want := make([]Level, len(msgs))
	for i, m := range msgs {
		want[i] = d.Detect(m, "").Level
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				k := (i + g) % len(msgs)
				if got := d.Detect(msgs[k], "").Level; got != want[k] {
					t.Errorf("Detect(%q) = %v; want %v", msgs[k], got, want[k])
				}
			}
		})
	}
	wg.Wait()
}

// TestLexiconLanguage: with the client's language known, the lexicon
// leaves out the other language's concern phrases (the learned stage, which
// has no per-language lists, may still read them).
func TestLexiconLanguage(t *testing.T) {
	lex := mustLexicon(t)
	for lang, want := range map[string]Level{"en": None, "": Concern, "es": Concern} {
		if got := lex.Detect("no aguanto más", lang).Level; got != want {
			t.Errorf("lexicon Detect(no aguanto más, %q) = %v; want %v", lang, got, want)
		}
	}
}

func TestLexiconFilesParse(t *testing.T) {
	c, err := newCompiler()
	if err != nil {
		t.Fatal(err)
	}
	if c.nexp < 1000 {
		t.Errorf("lexicon compiled to %d phrase forms; want many more", c.nexp)
	}
}

// TestObfuscated: leet and censored spellings read as the word they hide.
func TestObfuscated(t *testing.T) {
	lex := mustLexicon(t)
	for text, want := range map[string]Level{
		"gonna k!ll myself":       Crisis,
		"kiero m4t4rme hoy":       Crisis,
		"feelin real s*icidal":    Crisis,
		"t00k the wh0le b0ttle":   Crisis,
		"took 30 tylenol":         Crisis,
		"i took 2 tylenol, fine!": None,
		"wow!great news":          None,
		"meet at 3am":             None,
		"k1ll mys3lf":             Crisis,
		"qu1er0 m0r1r":            Crisis,
		"m4t4rm3 hoy":             Crisis,
		"w@nn@ d1e":               Crisis,
		"need to cu7 tonight":     Crisis,
		"covid19 test came back":  None,
		"help! i lost my keys":    None,
		"on my ps5 all night":     None,
		// A letter hidden by '*' is filled from the lexicon's censored
		// list only: a risk word is read, a swear word or an idiom is not.
		"k*ll myself":                   Crisis,
		"i want to d*e":                 Crisis,
		"thinking about su*c*de":        Crisis,
		"c*t myself again":              Crisis,
		"quiero m*rir":                  Crisis,
		"me quiero m*tar":               Crisis,
		"i almost sh*t myself laughing": None,
		"f*ck this day":                 None,
		"this traffic is k*lling me":    None,
		"my d*d called":                 None,
	} {
		if got := lex.Detect(text, "").Level; got != want {
			t.Errorf("Detect(%q) = %v; want %v", text, got, want)
		}
	}
}

// TestIgnoresStayNarrow: an idiom's ignore line names what follows the
// risk words in the idiom, so that the same words with anything else are
// read. Each of these risk messages was once swallowed by an ignore whose
// alternative ended on a bare preposition ("me quiero morir de", "cut
// myself on", "me mato con").
// lexCase is a message and the level the lexicon alone must give it.
type lexCase struct {
	text, lang string
	want       Level
}

// checkLexicon reads each case with the lexicon alone.
func checkLexicon(t *testing.T, cases []lexCase) {
	t.Helper()
	lex := mustLexicon(t)
	for _, c := range cases {
		if got := lex.Detect(c.text, c.lang).Level; got != c.want {
			t.Errorf("lexicon Detect(%q) = %v; want %v", c.text, got, c.want)
		}
	}
}

func TestIgnoresStayNarrow(t *testing.T) {
	checkLexicon(t, []lexCase{
		{"me quiero morir de verdad", "es", Crisis},
		{"me quiero morir de una vez", "es", Crisis},
		{"me quiero morir por todo lo que pasó", "es", Crisis},
		{"me mato con las pastillas esta noche", "es", Crisis},
		{"hoy me mato con la pistola de mi papa", "es", Crisis},
		{"prefiero morir que seguir asi", "es", Crisis},
		{"i cut myself on purpose last night", "en", Crisis},
		{"cut myself on my arm again", "en", Crisis},
		{"i cut myself while everyone was asleep", "en", Crisis},
		{"burned my arm on purpose", "en", Crisis},
		{"i hope i dont wake up at all", "en", Crisis},
		{"i want to die for real", "en", Crisis},
		{"i keep thinking about dying to be honest", "en", Crisis},
		{"i want to end it with pills tonight", "en", Crisis},
		{"id rather die than keep living like this", "en", Crisis},
		{"i want to pull the trigger on myself", "en", Concern},
		{"i threw away my safety plan, suicide tonight", "en", Crisis},
		{"forget the safety plan die tonight is the night", "en", Crisis},
		{"screw my crisis plan suicide is the only way", "en", Crisis},
		{"yes i took all my pills im sorry", "en", Crisis},
		{"i took all my pills for the week at once", "en", Crisis},
		{"i bought a rope to tie a noose", "en", Crisis},
		{"i have the pills ready for tomorrow", "en", Crisis},
		{"i burned my arm in the shower on purpose", "en", Crisis},
		{"my family wouldnt even care if i died", "en", Crisis},
		{"my kids would be better off without me", "en", Crisis},
		{"no me siento segura de noche en mi casa", "es", Crisis},
		{"me corte las venas con una hoja de rasurar", "es", Crisis},
		{"me mato el viernes", "es", Crisis},
		{"prefiero morir que ser una carga para mi familia", "es", Crisis},
		{"mi esposo dice que me va a matar de verdad", "es", Crisis},
		{"mi mama dice que me va a matar si le digo a alguien", "es", Crisis},
		{"si pierdo el jale me mato", "es", Crisis},
		{"ya tengo la soga para el arbol", "es", Crisis},
		{"no sirvo para nada quiero morirme", "es", Crisis},
		{"no tengo ganas de nada me quiero morir", "es", Crisis},
		{"compre una pistola ayer", "es", Crisis},
		{"tengo la pistola cargada aqui", "es", Crisis},
		{"bought a gun today", "en", Crisis},
		{"the gun is in my hand", "en", Crisis},
		{"i have the nail gun ready, going to put it to my head", "en", Crisis},
		// The idioms stay idioms.
		{"me quiero morir de la vergüenza", "es", None},
		{"me muero por verte", "es", None},
		{"me muero de hambre", "es", None},
		{"me mato el examen", "es", None},
		{"me mato de risa contigo", "es", None},
		{"prefiero morirme antes que ponerme ese vestido", "es", None},
		{"cut myself on a can opener", "en", None},
		{"cut myself while cooking", "en", None},
		{"burned my hand on the stove", "en", None},
		{"hurt myself at work", "en", None},
		{"i need to wake up at 6", "en", None},
		{"that cake is to die for", "en", None},
		{"dying to see you this weekend", "en", None},
		{"im ending things with my boyfriend", "en", None},
		{"id rather die than wear that", "en", None},
		{"took my meds this morning", "en", None},
		{"ready for the trip", "en", None},
		{"estoy segura de que viene mañana", "es", None},
		{"me corte con una hoja de papel", "es", None},
		{"me muero por un cafecito", "es", None},
		{"esta tarea me va a matar", "es", None},
		{"mi mama me va a matar si llego tarde", "es", None},
		{"ese meme me mato", "es", None},
		{"ya me tome mis pastillas de hoy", "es", None},
		{"compre una soga pal columpio", "es", None},
		// Toys and tools that are called guns, not weapons: a parent who
		// bought a water gun is not asked the safety question.
		{"compre una pistola de agua para el cumple", "es", None},
		{"ya tengo la pistola de agua lista pa la playa", "es", None},
		{"tengo la pistola de calor aqui", "es", None},
		{"me compre una pistola de silicon pa las manualidades", "es", None},
		{"the glue gun is in my hand lol", "en", None},
		{"i have the water gun ready for the pool party", "en", None},
	})
}

// TestLexiconPlainWording holds explicit wording the lexicon once left to
// the model (threats with a weapon named, the will to live lost, voices
// saying "mátate", a whole organizer taken; clipped English with "to" and
// "myself" left out, as in English shaped by ASL; Spanish spelled by sound)
// at crisis, and the everyday sentences that share their words at none.
func TestLexiconPlainWording(t *testing.T) {
	checkLexicon(t, []lexCase{
		{"he is threatening me with a knife right now", "en", Crisis},
		{"i havent stopped thinking about suicide since friday", "en", Crisis},
		{"googling painless ways to go", "en", Crisis},
		{"thoughts of offing myself all day", "en", Crisis},
		{"i wish i had died in that wreck", "en", Crisis},
		{"glad to be dead honestly", "en", Crisis},
		{"took the whole organizer at once", "en", Crisis},
		{"se me fueron las ganas de vivir", "es", Crisis},
		{"me voy a dejar morir", "es", Crisis},
		{"me tienen amenazada los del barrio", "es", Crisis},
		{"me siento en peligro en esta casa", "es", Crisis},
		{"estaria mejor bajo tierra", "es", Crisis},
		{"quiero volarme los sesos", "es", Crisis},
		{"una voz me dice matate", "es", Crisis},
		{"me tome todos los seroquel de golpe", "es", Crisis},
		{"no hay dia que no piense en matarme", "es", Crisis},
		{"pienso en aventarme a los carros", "es", Crisis},
		{"estoy viendo videos de como suicidarse", "es", Crisis},
		{"me want die. tired everything", "en", Crisis},
		{"i wan die", "en", Crisis},
		{"me think kill self every day", "en", Crisis},
		{"last night hurt self again", "en", Crisis},
		{"me tired life, want sleep never wake", "en", Crisis},
		{"me ready go heaven now", "en", Crisis},
		{"ya no quiero bibir", "es", Crisis},

		{"he threatened me with a lawsuit", "en", None},
		{"No I haven't stopped my meds, I take them at night", "en", None},
		{"i wish i had died of embarrassment lol", "en", None},
		{"glad to be done with finals", "en", None},
		{"refilled the whole pill organizer for the week", "en", None},
		{"se me fueron las ganas de comer", "es", None},
		{"no me voy a dejar morir, tengo a mis hijos", "es", None},
		{"mi mama me dijo matate estudiando jaja", "es", None},
		{"ya me tome todas las pastillas de hoy", "es", None},
		{"no hay dia que no piense en ti", "es", None},
		{"vi un video de como se hacen tamales", "es", None},
		{"quiero que mi papa pueda morir sin dolor", "es", None},
		{"me not want die, just tired", "en", None},
		{"working on my self esteem in group", "en", None},
		{"self checkout broke again at the store", "en", None},
		{"i wanna ded-lift 200 by summer", "en", None},
		{"me think kill weeds in garden saturday", "en", None},
		{"im ready die hard 5 tonight, movie marathon", "en", None},
		{"i want die, my hair falling out from stress", "en", Crisis},
		{"grandma go heaven last year, me miss her", "en", None},
		{"ya quiero bibir en mi propia casa", "es", None},
		{"we talked about my crisis plan suicide line and coping skills", "en", None},
		{"me plan suicide tonight", "en", Crisis},
	})
}
