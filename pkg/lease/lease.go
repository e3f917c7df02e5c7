// Package lease holds the mechanics of a lease kept on a DynamoDB item and
// fenced by a counter, shared by the shard consumer's leases and the poller's
// leadership: the conditional writes that take, renew, release and fence
// writes on a lease (a refused condition is ErrLost), the holder's clock that
// stops trusting a lease it could not renew in time, and the observer's that
// decides when another holder's lease has expired. Expiry is timed on each
// process' own monotonic clock, so hosts' clocks need not agree.
package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/weatherd/weatherd/pkg/ddbtable"
)

// ErrLost means a conditional write found the lease item changed: another
// process owns the lease now, or took, renewed, claimed or released it first.
var ErrLost = errors.New("lease changed by another owner")

// Refused returns ErrLost for a write refused by its condition, and err
// unchanged otherwise.
func Refused(err error) error {
	if ddbtable.ConditionFailed(err) {
		return ErrLost
	}
	return err
}

// Attrs names the attributes of a lease item.
type Attrs struct {
	// Key is the item's (string) hash key.
	Key string
	// Owner holds the owner's id; absent while the lease is free.
	Owner string
	// Counter (a number) is bumped by every take, renew and release.
	Counter string
	// Timeout is the informational absolute expiry (see Timeout).
	Timeout string
	// TimeoutVersions makes a take also require Timeout unchanged: writers
	// that keep no counter (vmware-go-kcl-v2) version a lease by it.
	TimeoutVersions bool
}

// Record is the ownership state of a lease item as read. A take is
// conditioned on the item being still exactly that.
type Record struct {
	Exists bool   // false: there is no item; a take creates it
	Owner  string // "" when free
	// Timeout is the Timeout attribute as read ("" when absent); compared by
	// a take only with Attrs.TimeoutVersions.
	Timeout string
	Counter int64
	// HasCounter is false for an item whose last writer dropped the counter.
	HasCounter bool
}

// Timeout formats the informational absolute expiry written on an item, now
// plus d: RFC3339Nano UTC, as vmware-go-kcl-v2 writes it. Expiry itself is
// timed on each process' own clock.
func Timeout(now time.Time, d time.Duration) string {
	return now.Add(d).UTC().Format(time.RFC3339Nano)
}

// UpdateAPI is the part of the DynamoDB client lease writes use.
type UpdateAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ UpdateAPI = (*dynamodb.Client)(nil)

// Table writes the lease items of one table. Every write is conditional, so
// the table is the only truth; a refused one returns ErrLost, unwrapped, for
// the caller to wrap with what it tried.
type Table struct {
	DB    UpdateAPI
	Name  string
	Attrs Attrs
	// NoItem asks DynamoDB for nothing back: Write, Take and Renew then
	// return a nil item. For items that carry a blob not worth receiving
	// with every renewal.
	NoItem bool
}

// NewUpdate starts a write on one of t's items.
func (t Table) NewUpdate() *Update { return NewUpdate(t.Attrs) }

// Write applies u to the item key and returns the item as written.
func (t Table) Write(ctx context.Context, key string, u *Update) (map[string]types.AttributeValue, error) {
	in := u.Input(t.Name, key)
	if t.NoItem {
		in.ReturnValues = types.ReturnValueNone
	}
	out, err := t.DB.UpdateItem(ctx, in)
	if err := Refused(err); err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// Take makes me the owner of key for d, provided the item is exactly old.
// u, when not nil, carries more changes for the same write.
func (t Table) Take(ctx context.Context, key string, old Record, me string, d time.Duration, u *Update) (map[string]types.AttributeValue, error) {
	u = t.orNew(u)
	u.Set(t.Attrs.Owner, ddbtable.S(me))
	u.Set(t.Attrs.Timeout, ddbtable.S(Timeout(time.Now(), d)))
	u.Set(t.Attrs.Counter, ddbtable.N(old.Counter+1))
	if !old.Exists {
		u.ItemAbsent()
	} else {
		u.Unchanged(old)
	}
	return t.Write(ctx, key, u)
}

// Renew extends me's lease on key at counter for d. u, when not nil, carries
// more changes for the same write.
func (t Table) Renew(ctx context.Context, key, me string, counter int64, d time.Duration, u *Update) (map[string]types.AttributeValue, error) {
	u = t.orNew(u)
	u.Set(t.Attrs.Timeout, ddbtable.S(Timeout(time.Now(), d)))
	u.Set(t.Attrs.Counter, ddbtable.N(counter+1))
	u.Owned(me, counter)
	return t.Write(ctx, key, u)
}

// Release frees me's lease on key at counter, so that another process takes
// it at its next look instead of after the lease duration. u, when not nil,
// carries more changes for the same write.
func (t Table) Release(ctx context.Context, key, me string, counter int64, u *Update) error {
	u = t.orNew(u)
	u.Set(t.Attrs.Timeout, ddbtable.S(Timeout(time.Now(), 0)))
	u.Set(t.Attrs.Counter, ddbtable.N(counter+1))
	u.Remove(t.Attrs.Owner)
	u.Owned(me, counter)
	_, err := t.Write(ctx, key, u)
	return err
}

func (t Table) orNew(u *Update) *Update {
	if u == nil {
		return t.NewUpdate()
	}
	return u
}

// Update builds a conditional UpdateItem on one lease item, with
// placeholders for every name and value. Unless ItemAbsent is called, the
// item must exist.
type Update struct {
	attrs                Attrs
	sets, removes, conds []string
	names                map[string]string
	values               map[string]types.AttributeValue
	create               bool
}

// NewUpdate starts a write on an item with attributes a.
func NewUpdate(a Attrs) *Update {
	return &Update{attrs: a, names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

func (u *Update) name(n string) string {
	p := "#" + strings.ToLower(n)
	u.names[p] = n
	return p
}

func (u *Update) value(v types.AttributeValue) string {
	p := fmt.Sprintf(":v%d", len(u.values))
	u.values[p] = v
	return p
}

// Set writes v to attribute n.
func (u *Update) Set(n string, v types.AttributeValue) {
	u.sets = append(u.sets, u.name(n)+" = "+u.value(v))
}

// Remove deletes attribute n.
func (u *Update) Remove(n string) { u.removes = append(u.removes, u.name(n)) }

// Cond requires attribute n to compare with v by op (e.g. "=").
func (u *Update) Cond(n, op string, v types.AttributeValue) {
	u.conds = append(u.conds, u.name(n)+" "+op+" "+u.value(v))
}

// Absent requires attribute n to be absent.
func (u *Update) Absent(n string) {
	u.conds = append(u.conds, "attribute_not_exists("+u.name(n)+")")
}

// EqOrAbsent requires string attribute n to equal v, or to be absent when v
// is empty.
func (u *Update) EqOrAbsent(n, v string) {
	if v == "" {
		u.Absent(n)
		return
	}
	u.Cond(n, "=", ddbtable.S(v))
}

// Unchanged requires the existing item's ownership to be exactly old: same
// owner (or none), same counter (or none), and with Attrs.TimeoutVersions
// the same Timeout.
func (u *Update) Unchanged(old Record) {
	u.EqOrAbsent(u.attrs.Owner, old.Owner)
	if u.attrs.TimeoutVersions {
		u.EqOrAbsent(u.attrs.Timeout, old.Timeout)
	}
	if old.HasCounter {
		u.Cond(u.attrs.Counter, "=", ddbtable.N(old.Counter))
	} else {
		u.Absent(u.attrs.Counter)
	}
}

// Owned fences the write on me owning the lease at counter.
func (u *Update) Owned(me string, counter int64) {
	u.OwnedBy(me)
	u.Cond(u.attrs.Counter, "=", ddbtable.N(counter))
}

// OwnedBy fences the write on me owning the lease, whatever its counter.
func (u *Update) OwnedBy(me string) { u.Cond(u.attrs.Owner, "=", ddbtable.S(me)) }

// ItemAbsent requires, instead of the item existing, that there is none:
// the write creates it.
func (u *Update) ItemAbsent() { u.create = true }

// Input is the UpdateItem on item key of table, returning the item as written.
func (u *Update) Input(table, key string) *dynamodb.UpdateItemInput {
	var expr []string
	if len(u.sets) > 0 {
		expr = append(expr, "SET "+strings.Join(u.sets, ", "))
	}
	if len(u.removes) > 0 {
		expr = append(expr, "REMOVE "+strings.Join(u.removes, ", "))
	}
	cond := u.condition()
	in := &dynamodb.UpdateItemInput{
		TableName:                &table,
		Key:                      map[string]types.AttributeValue{u.attrs.Key: ddbtable.S(key)},
		UpdateExpression:         aws.String(strings.Join(expr, " ")),
		ConditionExpression:      &cond,
		ExpressionAttributeNames: u.names,
		ReturnValues:             types.ReturnValueAllNew,
	}
	if len(u.values) > 0 {
		in.ExpressionAttributeValues = u.values
	}
	return in
}

// DeleteInput is the DeleteItem of item key of table under u's conditions;
// u carries conditions only (DynamoDB refuses names and values a request
// does not use).
func (u *Update) DeleteInput(table, key string) *dynamodb.DeleteItemInput {
	cond := u.condition()
	in := &dynamodb.DeleteItemInput{
		TableName:                &table,
		Key:                      map[string]types.AttributeValue{u.attrs.Key: ddbtable.S(key)},
		ConditionExpression:      &cond,
		ExpressionAttributeNames: u.names,
	}
	if len(u.values) > 0 {
		in.ExpressionAttributeValues = u.values
	}
	return in
}

func (u *Update) condition() string {
	item := "attribute_exists(" + u.name(u.attrs.Key) + ")"
	if u.create {
		item = "attribute_not_exists(" + u.name(u.attrs.Key) + ")"
	}
	return strings.Join(append([]string{item}, u.conds...), " AND ")
}
