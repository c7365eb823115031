package alert

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
)

// EventType is the type field of every webhook body this package sends.
const EventType = "budget.threshold_crossed"

// webhookBody is the JSON a webhook target receives; doc.go documents it for receivers.
type webhookBody struct {
	ID               string      `json:"id"`
	Type             string      `json:"type"`
	Rule             string      `json:"rule"`
	Unit             string      `json:"unit"`
	Bucket           string      `json:"bucket"`
	ThresholdPercent int         `json:"threshold_percent"`
	Spend            json.Number `json:"spend"`
	Limit            json.Number `json:"limit"`
	PeriodStart      string      `json:"period_start"`
	PeriodEnd        string      `json:"period_end"`
	Audit            bool        `json:"audit"`
	CreatedAt        string      `json:"created_at"`
}

func webhookPayload(a budget.Alert, id string, now time.Time) ([]byte, error) {
	return json.Marshal(webhookBody{
		ID: id, Type: EventType, Rule: a.Rule, Unit: a.Unit.String(), Bucket: a.Bucket,
		ThresholdPercent: a.Threshold,
		Spend:            json.Number(amount(a.Unit, a.Spend)),
		Limit:            json.Number(amount(a.Unit, a.Limit)),
		PeriodStart:      a.PeriodStart.UTC().Format(time.RFC3339),
		PeriodEnd:        a.PeriodEnd.UTC().Format(time.RFC3339),
		Audit:            a.Audit,
		CreatedAt:        now.UTC().Format(time.RFC3339),
	})
}

// slackPayload returns Slack's incoming-webhook body: {"text": "..."} with one line.
func slackPayload(a budget.Alert) ([]byte, error) {
	return json.Marshal(struct {
		Text string `json:"text"`
	}{slackText(a)})
}

// slackText is the one-line human message of a Slack alert. Slack parses &, < and > as control
// characters, so they are escaped (and only they: Slack decodes no other entity).
func slackText(a budget.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":warning: llmgw budget %q", a.Rule)
	if a.Bucket != "" {
		fmt.Fprintf(&b, " (%s)", a.Bucket)
	}
	fmt.Fprintf(&b, " reached %d%% of its %s limit: %s of %s, period %s to %s UTC",
		a.Threshold, a.Unit, human(a.Unit, a.Spend), human(a.Unit, a.Limit),
		a.PeriodStart.UTC().Format(time.DateOnly), a.PeriodEnd.UTC().Format(time.DateOnly))
	switch {
	case a.Audit:
		b.WriteString(" (audit mode: requests are not refused)")
	case a.Threshold >= 100:
		b.WriteString("; further requests are refused until the period ends")
	}
	b.WriteByte('.')
	return slackEscape.Replace(b.String())
}

var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// amount renders n in the unit's natural amount as a JSON number: exact US dollars for cost
// units (nano-dollars / 1e9, trailing zeros trimmed), an integer for token units.
func amount(u budget.Unit, n int64) string {
	if !u.Cost() {
		return strconv.FormatInt(n, 10)
	}
	sign, whole, frac := splitNano(n)
	if frac == 0 {
		return sign + strconv.FormatUint(whole, 10)
	}
	return sign + strconv.FormatUint(whole, 10) + "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
}

// human renders n for people: "$450.25" (cents when exact, else every significant decimal) or
// "1200 tokens".
func human(u budget.Unit, n int64) string {
	if !u.Cost() {
		return strconv.FormatInt(n, 10) + " tokens"
	}
	sign, whole, frac := splitNano(n)
	const nanoPerCent = budget.NanoPerUSD / 100
	if frac%nanoPerCent == 0 {
		return fmt.Sprintf("%s$%d.%02d", sign, whole, frac/nanoPerCent)
	}
	return sign + "$" + amount(u, n)[len(sign):]
}

func splitNano(n int64) (sign string, whole, frac uint64) {
	m := uint64(n)
	if n < 0 {
		sign, m = "-", uint64(-(n+1))+1 // no overflow at math.MinInt64
	}
	return sign, m / budget.NanoPerUSD, m % budget.NanoPerUSD
}
