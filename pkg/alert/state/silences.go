package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/alert/match"
	"github.com/weatherd/weatherd/pkg/ddbtable"
)

// Ack is an operator's acknowledgement of a firing alert: it stops repeat
// notifications until the alert resolves.
type Ack struct {
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Matchers select alerts (see package match); empty matches anything.
type Matchers struct {
	Rule     string `json:"rule,omitempty"`
	Location string `json:"location,omitempty"`
	Severity string `json:"severity,omitempty"`
}

// Match reports whether an alert of rule at location with severity matches.
func (m Matchers) Match(rule, location, severity string) bool {
	return match.Match(m.Rule, rule) && match.Match(m.Location, location) && match.Match(m.Severity, severity)
}

// Silence mutes the notifications of matching alerts from StartsAt until
// EndsAt. Silences live beside the alerts so every replica sees them.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  Matchers  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Suppressed counts the notifications it kept from being sent.
	Suppressed int `json:"suppressed,omitempty"`
	// Version is the store's write counter, 0 for a silence never stored.
	Version int64 `json:"-"`
}

// ActiveAt reports whether the silence mutes at t.
func (s Silence) ActiveAt(t time.Time) bool { return !t.Before(s.StartsAt) && t.Before(s.EndsAt) }

// silencePartition is the DynamoDB hash key of the silences: '#' is in no
// location id, so alert queries and scans never mistake one for an alert.
const silencePartition = "#silences"

// All returns every alert (consistent scan), silences left out.
func (d *DynamoDB) All(ctx context.Context) ([]Alert, error) {
	var out []Alert
	err := d.scanAlerts(ctx, func(item map[string]types.AttributeValue) error {
		a, err := decodeItem(item)
		if err == nil {
			out = append(out, a)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("scan alert state: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return lessAlert(out[i], out[j]) })
	return out, nil
}

// Silences returns every stored silence, oldest first (consistent query).
func (d *DynamoDB) Silences(ctx context.Context) ([]Silence, error) {
	out, err := queryPartition(ctx, d, silencePartition, decodeSilence)
	if err != nil {
		return nil, fmt.Errorf("query silences: %w", err)
	}
	sortSilences(out)
	return out, nil
}

// SaveSilence writes s conditionally on its version.
func (d *DynamoDB) SaveSilence(ctx context.Context, s *Silence) error {
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode silence %s: %w", s.ID, err)
	}
	next := s.Version + 1
	item := key(silencePartition, s.ID)
	item["version"] = ddbtable.N(next)
	item["doc"] = &types.AttributeValueMemberS{Value: string(doc)}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item, ExpressionAttributeNames: map[string]string{"#v": "version"}}
	if s.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#v)")
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": ddbtable.N(s.Version)}
	}
	if _, err := d.api.PutItem(ctx, in); err != nil {
		if ddbtable.ConditionFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("put silence %s: %w", s.ID, err)
	}
	s.Version = next
	return nil
}

// DeleteSilence removes s conditionally on its version.
func (d *DynamoDB) DeleteSilence(ctx context.Context, s Silence) error {
	_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key(silencePartition, s.ID),
		ConditionExpression:       aws.String("attribute_not_exists(#v) OR #v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": ddbtable.N(s.Version)},
	})
	if ddbtable.ConditionFailed(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("delete silence %s: %w", s.ID, err)
	}
	return nil
}

// scanAlerts visits every alert item, the silences (location '#...') left out.
func (d *DynamoDB) scanAlerts(ctx context.Context, visit func(map[string]types.AttributeValue) error) error {
	return d.scan(ctx, &dynamodb.ScanInput{
		TableName:                 aws.String(d.table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("NOT begins_with(#l, :internal)"),
		ExpressionAttributeNames:  map[string]string{"#l": "location"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":internal": &types.AttributeValueMemberS{Value: "#"}},
	}, visit)
}

func decodeSilence(item map[string]types.AttributeValue) (Silence, error) {
	var id string
	if s, ok := item["rule"].(*types.AttributeValueMemberS); ok {
		id = s.Value
	}
	doc, ok := item["doc"].(*types.AttributeValueMemberS)
	ver, ok2 := item["version"].(*types.AttributeValueMemberN)
	if !ok || !ok2 {
		return Silence{}, fmt.Errorf("silence item %s lacks doc or version", id)
	}
	var s Silence
	if err := json.Unmarshal([]byte(doc.Value), &s); err != nil {
		return Silence{}, fmt.Errorf("decode silence item %s: %w", id, err)
	}
	v, err := strconv.ParseInt(ver.Value, 10, 64)
	if err != nil {
		return Silence{}, fmt.Errorf("silence item %s: version %q: %w", id, ver.Value, err)
	}
	s.ID, s.Version = id, v
	return s, nil
}

// All returns every alert, sorted by location and rule.
func (m *Memory) All(context.Context) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, set := range m.alerts {
		for _, a := range set {
			out = append(out, a.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessAlert(out[i], out[j]) })
	return out, nil
}

// Silences returns every silence, oldest first.
func (m *Memory) Silences(context.Context) ([]Silence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Silence, 0, len(m.silences))
	for _, s := range m.silences {
		out = append(out, s)
	}
	sortSilences(out)
	return out, nil
}

// SaveSilence stores s when its version matches.
func (m *Memory) SaveSilence(_ context.Context, s *Silence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.silences[s.ID]
	if (!ok && s.Version != 0) || (ok && cur.Version != s.Version) {
		return ErrConflict
	}
	if m.silences == nil {
		m.silences = map[string]Silence{}
	}
	s.Version++
	m.silences[s.ID] = *s
	return nil
}

// DeleteSilence removes s when its version matches.
func (m *Memory) DeleteSilence(_ context.Context, s Silence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.silences[s.ID]
	if !ok {
		return nil
	}
	if cur.Version != s.Version {
		return ErrConflict
	}
	delete(m.silences, s.ID)
	return nil
}

func lessAlert(a, b Alert) bool {
	if a.Location != b.Location {
		return a.Location < b.Location
	}
	return a.Rule < b.Rule
}

func sortSilences(s []Silence) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].CreatedAt.Equal(s[j].CreatedAt) {
			return s[i].CreatedAt.Before(s[j].CreatedAt)
		}
		return strings.Compare(s[i].ID, s[j].ID) < 0
	})
}
