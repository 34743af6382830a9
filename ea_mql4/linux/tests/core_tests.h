// core_tests.h -- unit tests of the EA's pure modules (included by
// protocol_driver.cpp; run with `protocol_driver selftest [filter]`).
#pragma once

#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace core_tests {

struct Case {
  const char *name;
  std::function<void()> fn;
};
inline std::vector<Case> &registry() {
  static std::vector<Case> cases;
  return cases;
}
struct Reg {
  Reg(const char *name, std::function<void()> fn) { registry().push_back({name, fn}); }
};
inline bool &failed() {
  static bool f = false;
  return f;
}

}  // namespace core_tests

#define TEST(name)                                              \
  static void name();                                           \
  static core_tests::Reg reg_##name(#name, name);               \
  static void name()
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::cout << "    line " << __LINE__ << ": CHECK(" #cond ") failed\n";  \
      core_tests::failed() = true;                                             \
    }                                                                          \
  } while (0)
#define CHECK_EQ(a, b)                                                                \
  do {                                                                                \
    if (!((a) == (b))) {                                                              \
      std::cout << "    line " << __LINE__ << ": " #a " == " #b " failed: got '"      \
                << mql_print_arg(a) << "' want '" << mql_print_arg(b) << "'\n";     \
      core_tests::failed() = true;                                                    \
    }                                                                                 \
  } while (0)

static std::string mql_print_arg(const std::string &v) { return v; }

// ---------------------------------------------------------------- helpers
static SOrderRow row(int ticket, const char *symbol, int type, double lots, double price,
                     double sl = 0, double tp = 0, const char *comment = "", int magic = 0,
                     datetime open_time = 1700000000) {
  SOrderRow r;
  r.ticket = ticket;
  r.symbol = symbol;
  r.type = type;
  r.lots = lots;
  r.open_price = price;
  r.sl = sl;
  r.tp = tp;
  r.magic = magic;
  r.comment = comment;
  r.open_time = open_time;
  return r;
}
static void push(MqlArray<SOrderRow> &rows, const SOrderRow &r) {
  int n = ArraySize(rows);
  ArrayResize(rows, n + 1);
  rows[n] = r;
}
static SSessionCreated created(const char *state) {
  SSessionCreated c;
  c.session_id = "sess-1";
  c.state = state;
  c.session_token = "tok";
  c.heartbeat_interval_s = 5;
  c.heartbeat_timeout_s = 15;
  return c;
}

// ---------------------------------------------------------------- JSON
TEST(test_json_reader_parses_nested_document) {
  CJsonDoc d;
  CHECK(d.Parse(" {\"a\": [1, -2.5e3, true, null, {\"b\": \"x\"}], \"c\": {}} "));
  int a = d.Find(d.Root(), "a");
  CHECK_EQ(d.Kind(a), JSON_ARRAY);
  CHECK_EQ(d.Count(a), 5);
  int first = d.First(a);
  CHECK_EQ(d.Long(first), 1L);
  CHECK(d.Num(d.Next(first)) == -2500.0);
  CHECK(d.Bool(d.Next(d.Next(first))));
  CHECK_EQ(d.Kind(d.Next(d.Next(d.Next(first)))), JSON_NULL);
  string b;
  CHECK(d.GetString(d.Next(d.Next(d.Next(d.Next(first)))), "b", b));
  CHECK_EQ(b, string("x"));
  CHECK_EQ(d.Count(d.Find(d.Root(), "c")), 0);
  CHECK_EQ(d.Find(d.Root(), "missing"), -1);
}

TEST(test_json_reader_reads_numbers_with_exponents) {
  CJsonDoc d;
  CHECK(d.Parse("{\"p\": 1e-05, \"q\": 1.5E+3, \"r\": 2.5e2, \"s\": -3E-2}"));
  double p = 0.0;
  CHECK(d.GetNumber(d.Root(), "p", p));
  CHECK(p == 0.00001);
  CHECK(d.Num(d.Find(d.Root(), "q")) == 1500.0);
  CHECK(d.Num(d.Find(d.Root(), "r")) == 250.0);
  CHECK(d.Num(d.Find(d.Root(), "s")) == -0.03);
  CHECK(JsonNumberValue("0.00001") == 0.00001);
}

TEST(test_json_reader_decodes_escapes_and_surrogate_pairs) {
  CJsonDoc d;
  CHECK(d.Parse("[\"q\\\"b\\\\s\\/n\\nt\\t\\u00e9\\ud83d\\ude00\"]"));
  string s = d.Str(d.First(d.Root()));
  CHECK_EQ(StringLen(s), 13);  // UTF-16 units, like MQL4
  CHECK_EQ(s.utf8(), std::string("q\"b\\s/n\nt\t\xc3\xa9\xf0\x9f\x98\x80"));
}

TEST(test_json_reader_rejects_malformed_input) {
  const char *bad[] = {"",        "{",         "{\"a\":}",  "[1,]",     "01",       "1.",
                       "-",       "[1e]",      "tru",       "{} x",     "{\"a\" 1}", "[\"\x01\"]",
                       "{\"a\":1,}", "\"abc",  "[\"\\x\"]", "{1:2}",    "[nul]",    "'a'"};
  for (const char *text : bad) {
    CJsonDoc d;
    if (d.Parse(text)) {
      std::cout << "    accepted: " << text << "\n";
      core_tests::failed() = true;
    }
    CHECK(d.Error() != "");
    CHECK_EQ(d.Root(), -1);
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  CJsonDoc d;
  CHECK(!d.Parse(deep.c_str()));
}

TEST(test_json_reader_keeps_raw_text_of_values) {
  CJsonDoc d;
  CHECK(d.Parse("{\"r\": {\"x\": [1, 2]} , \"n\": 1.50}"));
  CHECK_EQ(d.RawText(d.Find(d.Root(), "r")), string("{\"x\": [1, 2]}"));
  CHECK_EQ(d.RawText(d.Find(d.Root(), "n")), string("1.50"));
  CHECK(!d.IsInteger(d.Find(d.Root(), "n")));
}

TEST(test_json_writer_separates_and_escapes) {
  CJsonWriter w;
  w.BeginObject();
  w.KeyStr("s", "a\"b\\c\nd\x01");
  w.Key("a");
  w.BeginArray();
  w.Int(1);
  w.BeginObject();
  w.EndObject();
  w.Bool(false);
  w.Null();
  w.EndArray();
  w.KeyNum("n", 0.1 + 0.2, 8);
  w.EndObject();
  CHECK_EQ(w.Text(), string("{\"s\":\"a\\\"b\\\\c\\nd\\u0001\",\"a\":[1,{},false,null],\"n\":0.3}"));
  CJsonDoc d;
  CHECK(d.Parse(w.Text()));
}

TEST(test_json_number_trims_float_noise) {
  CHECK_EQ(JsonNumber(0.1 + 0.2, 8), string("0.3"));
  CHECK_EQ(JsonNumber(100.0, 8), string("100"));
  CHECK_EQ(JsonNumber(-0.0, 8), string("0"));
  CHECK_EQ(JsonNumber(1.23456, 8), string("1.23456"));
  CHECK_EQ(JsonNumber(0.3 - 0.1, 8), string("0.2"));
  CHECK_EQ(JsonNumber(-1.5, 2), string("-1.5"));
}

// ---------------------------------------------------------------- session
TEST(test_session_stops_for_good_when_preempted) {
  CSessionMachine s;
  CHECK(s.WantsSession(0));
  s.OnCreated(created("authenticated"), 0);
  CHECK(s.IsAuthenticated());
  s.OnExchangeResult(410, "preempted", -1, 1000);
  CHECK(s.IsStopped());
  CHECK_EQ(s.StopReason(), string("preempted"));
  CHECK(!s.WantsSession(10000000));
  CHECK(!s.CanExchange(10000000));
}

TEST(test_session_stops_when_shutdown_notice_says_key_rejected) {
  CSessionMachine s;
  s.OnCreated(created("pending"), 0);
  s.OnClosed("key_rejected", -1, 5);
  CHECK(s.IsStopped());
  CHECK(!s.WantsSession(999999));
}

TEST(test_session_stops_when_creation_is_refused_with_401) {
  CSessionMachine s;
  s.OnCreateFailed(401, "invalid_credentials", -1, 0);
  CHECK(s.IsStopped());
  CHECK_EQ(s.StopReason(), string("invalid_credentials"));
}

TEST(test_session_stops_when_token_is_refused_with_401) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnExchangeResult(401, "", -1, 10);
  CHECK(s.IsStopped());
  CHECK_EQ(s.StopReason(), string("invalid_token"));
}

TEST(test_session_reconnects_at_once_after_heartbeat_timeout) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnExchangeResult(410, "heartbeat_timeout", -1, 100);
  CHECK(!s.IsOpen());
  CHECK(s.WantsSession(100));
}

TEST(test_session_waits_reconnect_after_s_when_server_shuts_down) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnClosed("server_shutdown", 2.5, 1000);
  CHECK(!s.WantsSession(3499));
  CHECK(s.WantsSession(3500));
}

TEST(test_session_backs_off_exponentially_when_server_is_unreachable) {
  CSessionMachine s;
  long now = 0;
  long expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  for (long want : expected) {
    s.OnCreateFailed(-1, "", -1, now);
    CHECK_EQ(s.RetryAtMs() - now, want);
    CHECK(!s.WantsSession(s.RetryAtMs() - 1));
    now = s.RetryAtMs();
    CHECK(s.WantsSession(now));
  }
  s.OnCreated(created("pending"), now);
  s.OnClosed("server_shutdown", -1, now);
  CHECK_EQ(s.RetryAtMs() - now, 1000L);
}

TEST(test_session_honours_retry_after_when_rate_limited) {
  CSessionMachine s;
  s.OnCreateFailed(429, "rate_limited", 30000, 0);
  CHECK(!s.WantsSession(29999));
  CHECK(s.WantsSession(30000));
}

TEST(test_session_jitter_stays_within_a_quarter) {
  CSessionMachine s;
  s.Reset(12345);
  s.OnCreateFailed(503, "", -1, 0);
  CHECK(s.RetryAtMs() >= 1000 && s.RetryAtMs() <= 1250);
}

TEST(test_session_sends_heartbeat_every_interval) {
  CSessionMachine s;
  s.OnCreated(created("pending"), 0);
  CHECK(!s.HeartbeatDue(4999));
  CHECK(s.HeartbeatDue(5000));
  s.HeartbeatSent(5000);
  CHECK(!s.HeartbeatDue(9999));
  s.OnInitAck(1, 3, 6000);
  CHECK(s.HeartbeatDue(7000));
}

TEST(test_session_sends_init_request_once_per_session) {
  CSessionMachine s;
  s.OnCreated(created("pending"), 0);
  CHECK(s.TakeInitRequest());
  CHECK(!s.TakeInitRequest());
  s.OnClosed("heartbeat_timeout", -1, 1);
  s.OnCreated(created("pending"), 2);
  CHECK(s.TakeInitRequest());
}

TEST(test_session_becomes_authenticated_on_state_change_and_init_ack) {
  CSessionMachine s;
  s.OnCreated(created("pending"), 0);
  CHECK(!s.IsAuthenticated());
  s.OnStateChange("authenticated");
  CHECK(s.IsAuthenticated());
  CHECK(!s.InitAcked());
  s.OnInitAck(5, 15, 10);
  CHECK(s.InitAcked());
}

TEST(test_session_recreates_when_server_forgot_it) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnExchangeResult(404, "not_found", -1, 5);
  CHECK(s.WantsSession(5));
}

TEST(test_session_keeps_session_but_delays_exchange_on_transient_failure) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnExchangeResult(-1, "", -1, 100);
  CHECK(s.IsOpen());
  CHECK(!s.CanExchange(1099));
  CHECK(s.CanExchange(1100));
  s.OnExchangeResult(200, "", -1, 1100);
  CHECK(s.CanExchange(1100));
}

TEST(test_session_reconnects_with_the_same_session_after_retry_after_ms_when_an_intent_is_refused) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnInitAck(5, 15, 10);
  string id = s.SessionId();
  s.OnOverloaded(2500);
  CHECK(s.Overloaded());  // nothing more is written on the refusing connection
  s.OnWsClosed(1008, 1000);
  CHECK(s.IsOpen());  // no new session: the refusal closed the connection only
  CHECK_EQ(s.SessionId(), id);
  CHECK(!s.WantsSession(1000000));
  CHECK(!s.Overloaded());
  CHECK(!s.CanExchange(3499));  // not before retry.after_ms
  CHECK(s.CanExchange(3500));
}

TEST(test_session_refused_again_and_again_waits_retry_after_ms_each_time_never_less) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  long now = 0;
  for (int i = 0; i < 5; i++) {
    s.OnInitAck(5, 15, now);
    s.OnOverloaded(1000);
    s.OnWsClosed(1008, now);
    CHECK(!s.CanExchange(now + 999));
    now += 1000;
    CHECK(s.CanExchange(now));
  }
}

TEST(test_session_close_1008_without_an_alert_keeps_the_session_and_backs_off) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnWsClosed(1008, 100);
  CHECK(s.IsOpen());
  CHECK(!s.CanExchange(1099));
  CHECK(s.CanExchange(1100));
  s.OnWsClosed(1008, 1100);  // no InitAck in between: the backoff grows
  CHECK(!s.CanExchange(3099));
  CHECK(s.CanExchange(3100));
}

TEST(test_session_overloaded_alert_without_after_ms_waits_the_minimum_backoff) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnOverloaded(-1);
  s.OnWsClosed(1008, 0);
  CHECK(!s.CanExchange(999));
  CHECK(s.CanExchange(1000));
}

TEST(test_session_poll_refused_as_overloaded_waits_exactly_retry_after_without_growing_backoff) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  long now = 0;
  for (int i = 0; i < 4; i++) {
    s.OnExchangeResult(429, "overloaded", 1000, now);
    CHECK(s.IsOpen());
    CHECK(!s.CanExchange(now + 999));
    now += 1000;
    CHECK(s.CanExchange(now));
  }
  s.OnExchangeResult(429, "rate_limited", 1000, now);  // other 429s keep the growing backoff
  CHECK(!s.CanExchange(now + 999));
}

TEST(test_session_does_not_back_off_when_a_body_is_refused_for_its_size) {
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnExchangeResult(413, "payload_too_large", -1, 100);
  CHECK(s.IsOpen());
  CHECK(s.CanExchange(100));
}

TEST(test_ea_measures_messages_in_utf8_bytes_and_reads_their_type) {
  CHECK_EQ(CgUtf8Bytes("abc"), 3);
  CHECK_EQ(CgUtf8Bytes("\xc3\xa9"), 2);
  CHECK_EQ(CgEnvelopeType("{\"type\":\"SyncSnapshot\",\"id\":\"x\"}"), string("SyncSnapshot"));
  CHECK_EQ(CgEnvelopeType("{}"), string(""));
}

TEST(test_session_maps_websocket_close_codes) {
  CHECK_EQ(CgWsCloseAction(4001), CG_CLOSE_STOP);
  CHECK_EQ(CgWsCloseAction(4003), CG_CLOSE_STOP);
  CHECK_EQ(CgWsCloseAction(4002), CG_CLOSE_RECONNECT);
  CHECK_EQ(CgWsCloseAction(4004), CG_CLOSE_RECONNECT_LATER);
  CHECK_EQ(CgWsCloseAction(1009), CG_CLOSE_RECONNECT_LATER);
  CHECK_EQ(CgCloseAction("key_revoked"), CG_CLOSE_STOP);
  CHECK_EQ(CgCloseAction("store_unavailable"), CG_CLOSE_RECONNECT_LATER);
  CHECK_EQ(CgCloseAction("closed_by_operator"), CG_CLOSE_RECONNECT_LATER);
  CSessionMachine s;
  s.OnCreated(created("authenticated"), 0);
  s.OnWsClosed(4001, 1);
  CHECK(s.IsStopped());
}

// ---------------------------------------------------------------- inbox
static const char *kBatch =
    "{\"state\":\"authenticated\",\"messages\":["
    "{\"type\":\"SessionStateChange\",\"id\":\"s-1\",\"ts\":1,\"seq\":4,\"payload\":{\"state\":\"authenticated\"}},"
    "{\"type\":\"OrderCommand\",\"id\":\"s-2\",\"ts\":1,\"seq\":5,\"payload\":{\"command_id\":\"c1\"}},"
    "{\"type\":\"ShutdownNotice\",\"id\":\"s-3\",\"ts\":1,\"payload\":{\"reason\":\"server_shutdown\"}}]}";

TEST(test_inbox_drops_messages_at_or_below_ack_seq) {
  CInbox in;
  in.Init(4);
  CJsonDoc d;
  CHECK(d.Parse(kBatch));
  MqlArray<SServerMessage> out;
  CHECK_EQ(in.Route(d, d.Find(d.Root(), "messages"), out), 2);
  CHECK_EQ(out[0].id, string("s-2"));
  CHECK_EQ(in.Dropped(), 1);
}

TEST(test_inbox_returns_invalid_messages_so_they_can_be_reported) {
  CInbox in;
  in.Init(0);
  CJsonDoc d;
  CHECK(d.Parse(kBatch));
  MqlArray<SServerMessage> out;
  in.Route(d, d.Find(d.Root(), "messages"), out);
  CHECK_EQ(out[1].kind, CG_MSG_INVALID);
  CHECK_EQ(out[1].seq, 5L);
  CHECK_EQ(out[2].kind, CG_MSG_SHUTDOWN);
}

TEST(test_inbox_drops_duplicate_ids_and_acks_only_processed_seq) {
  CInbox in;
  in.Init(0);
  CJsonDoc d;
  CHECK(d.Parse(kBatch));
  MqlArray<SServerMessage> out;
  in.Route(d, d.Find(d.Root(), "messages"), out);
  CHECK_EQ(in.AckSeq(), 0L);
  in.MarkProcessed(out[0]);
  CHECK_EQ(in.AckSeq(), 4L);
  MqlArray<SServerMessage> again;
  CHECK_EQ(in.Route(d, d.Find(d.Root(), "messages"), again), 0);  // ids seen before
}

TEST(test_backlog_keeps_order_and_holds_everything_behind_a_waiting_message) {
  CInbox in;
  in.Init(0);
  CJsonDoc d;
  CHECK(d.Parse(kBatch));
  MqlArray<SServerMessage> out;
  in.Route(d, d.Find(d.Root(), "messages"), out);
  CMessageBacklog backlog;
  CHECK(!backlog.Ready(0));
  CHECK_EQ(backlog.Add(out), 3);
  CHECK_EQ(backlog.Add(out), 0);  // re-delivered while they wait: not twice
  SServerMessage m;
  backlog.First(m);
  CHECK_EQ(m.id, string("s-1"));
  backlog.RemoveFirst();
  backlog.WaitUntil(1000);  // s-2 must be handled again at t=1000
  CHECK(!backlog.Ready(999));
  CHECK(backlog.Ready(1000));
  backlog.First(m);
  CHECK_EQ(m.id, string("s-2"));
  backlog.RemoveFirst();  // handled: the next one is ready at once
  CHECK(backlog.Ready(0));
  backlog.First(m);
  CHECK_EQ(m.id, string("s-3"));
  backlog.RemoveFirst();
  CHECK_EQ(backlog.Count(), 0);
  CHECK(!backlog.Ready(5000));
}

// ---------------------------------------------------------------- journal, ticket map
TEST(test_journal_answers_duplicate_command_with_stored_report) {
  CCommandJournal j;
  j.Add("c1", "{\"type\":\"ExecutionReport\",\"id\":\"r1\"}");
  string report;
  CHECK(j.Find("c1", report));
  CHECK_EQ(report, string("{\"type\":\"ExecutionReport\",\"id\":\"r1\"}"));
  CHECK(!j.Find("c2", report));
  CCommandJournal k;
  CHECK(k.Load(j.Serialize()));
  CHECK(k.Find("c1", report));
  CHECK_EQ(report, string("{\"type\":\"ExecutionReport\",\"id\":\"r1\"}"));
}

TEST(test_journal_evicts_oldest_when_full) {
  CCommandJournal j;
  j.SetCapacity(3);
  for (int i = 0; i < 5; i++) j.Add("c" + IntegerToString(i), "{}");
  string r;
  CHECK_EQ(j.Count(), 3);
  CHECK(!j.Find("c0", r));
  CHECK(!j.Find("c1", r));
  CHECK(j.Find("c4", r));
}

TEST(test_journal_keeps_an_in_flight_marker_across_a_reload) {
  CCommandJournal j;
  j.Add("c1", "");  // in flight: OrderSend may have happened
  CCommandJournal k;
  CHECK(k.Load(j.Serialize()));
  string report = "x";
  CHECK(k.Find("c1", report));
  CHECK_EQ(report, string(""));
}

static const char *REPORT_R1 =
    "{\"type\":\"ExecutionReport\",\"id\":\"r1\",\"ts\":1,\"payload\":{\"command_id\":\"c1\","
    "\"status\":\"filled\"}}";

TEST(test_outbox_keeps_a_written_report_until_its_receipt) {
  COutbox o;
  CHECK(!o.Add("{\"type\":\"StatusHeartbeat\",\"id\":\"h1\"}"));
  CHECK(o.Add(REPORT_R1));
  o.Written(0);
  o.Written(1);
  CHECK(!o.RemoveFront(0));
  o.RemoveFront(2);
  CHECK_EQ(o.Count(), 0);
  CHECK_EQ(o.Unconfirmed(), 1);  // the heartbeat is gone, the report waits
  COutbox reloaded;
  CHECK(reloaded.Load(o.Serialize()));
  CHECK_EQ(reloaded.Count(), 1);
  CHECK(!o.Confirm("other"));
  CHECK(o.Confirm("x\nr1"));
  CHECK_EQ(o.Unconfirmed(), 0);
}

TEST(test_outbox_sends_unconfirmed_reports_first_on_a_new_connection) {
  COutbox o;
  o.Add(REPORT_R1);
  o.Written(0);
  o.RemoveFront(1);
  o.Add("{\"type\":\"StatusHeartbeat\",\"id\":\"h2\"}");
  o.RequeueUnconfirmed();
  o.AddFront("{\"type\":\"InitRequest\",\"id\":\"i1\"}");
  CHECK_EQ(o.Count(), 3);
  CHECK_EQ(o.At(1), string(REPORT_R1));
  CHECK_EQ(o.Unconfirmed(), 0);
}

TEST(test_ticket_map_links_by_master_account_and_ticket) {
  CTicketMap m;
  m.Set("m1", 100, 5001, "EURUSD");
  m.Set("m2", 100, 5002, "EURUSD");
  CHECK_EQ(m.Find("m1", 100), 5001);
  CHECK_EQ(m.Find("m2", 100), 5002);
  m.Renumber(5001, 5009);
  CHECK_EQ(m.Find("m1", 100), 5009);
  CTicketMap k;
  CHECK(k.Load(m.Serialize()));
  CHECK_EQ(k.Find("m2", 100), 5002);
  k.RemoveFollower(5009);
  CHECK_EQ(k.Find("m1", 100), 0);
  CHECK_EQ(k.Count(), 1);
}

// ---------------------------------------------------------------- master diff
static int diff(const MqlArray<SOrderRow> &a, const MqlArray<SOrderRow> &b,
                MqlArray<SOrderIntent> &out) {
  return CgDiffSnapshots(a, b, out);
}

TEST(test_master_emits_nothing_when_unchanged) {
  MqlArray<SOrderRow> a;
  push(a, row(1, "EURUSD", OP_BUY, 0.1, 1.1));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, a, out), 0);
}

TEST(test_master_detects_new_market_and_pending_orders) {
  MqlArray<SOrderRow> a, b;
  push(b, row(1, "EURUSD", OP_SELL, 0.1, 1.1, 1.2, 1.0, "x", 7));
  push(b, row(2, "EURUSD", OP_BUYSTOP, 0.2, 1.15));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 2);
  CHECK_EQ(out[0].action, string("open"));
  CHECK_EQ(out[0].side, string("sell"));
  CHECK_EQ(out[0].order_type, string("market"));
  CHECK(out[0].sl == 1.2 && out[0].tp == 1.0 && out[0].magic == 7);
  CHECK_EQ(out[1].action, string("place_pending"));
  CHECK_EQ(out[1].order_type, string("stop"));
  CHECK(out[1].price == 1.15);
}

TEST(test_master_detects_pending_fill_as_open_from_pending) {
  MqlArray<SOrderRow> a, b;
  push(a, row(2, "EURUSD", OP_BUYLIMIT, 0.2, 1.05));
  push(b, row(2, "EURUSD", OP_BUY, 0.2, 1.05));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 1);
  CHECK_EQ(out[0].action, string("open"));
  CHECK(out[0].from_pending);
  CHECK_EQ(out[0].ticket, 2);
}

TEST(test_master_detects_sl_tp_and_pending_price_changes_as_modify) {
  MqlArray<SOrderRow> a, b;
  push(a, row(1, "EURUSD", OP_BUY, 0.1, 1.1, 0, 0));
  push(a, row(2, "EURUSD", OP_SELLLIMIT, 0.1, 1.2));
  push(b, row(1, "EURUSD", OP_BUY, 0.1, 1.1, 1.09, 0));
  push(b, row(2, "EURUSD", OP_SELLLIMIT, 0.1, 1.21));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 2);
  CHECK_EQ(out[0].action, string("modify"));
  CHECK(out[0].sl == 1.09);
  CHECK_EQ(out[1].action, string("modify"));
  CHECK(out[1].price == 1.21);
}

TEST(test_master_detects_full_close_and_deleted_pending) {
  MqlArray<SOrderRow> a, b;
  push(a, row(1, "EURUSD", OP_BUY, 0.1, 1.1));
  push(a, row(2, "EURUSD", OP_SELLSTOP, 0.3, 1.0));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 2);
  CHECK_EQ(out[0].action, string("close"));
  CHECK(out[0].volume == 0.1 && out[0].new_ticket == 0);
  CHECK_EQ(out[1].action, string("cancel_pending"));
  CHECK_EQ(out[1].ticket, 2);
}

TEST(test_master_detects_partial_close_by_from_comment) {
  MqlArray<SOrderRow> a, b;
  push(a, row(10, "EURUSD", OP_SELL, 1.0, 1.1));
  push(b, row(11, "EURUSD", OP_SELL, 0.7, 1.1, 0, 0, "from #10"));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 1);  // no `open` for the remainder
  CHECK_EQ(out[0].action, string("close"));
  CHECK_EQ(out[0].ticket, 10);
  CHECK_EQ(JsonNumber(out[0].volume, 8), string("0.3"));
  CHECK_EQ(out[0].new_ticket, 11);
}

TEST(test_master_detects_partial_close_when_broker_rewrote_the_comment) {
  MqlArray<SOrderRow> a, b;
  push(a, row(10, "EURUSD", OP_BUY, 1.0, 1.1, 0, 0, "mine", 5, 1700000100));
  push(b, row(12, "GBPUSD", OP_BUY, 0.5, 1.3));  // an unrelated new order
  push(b, row(11, "EURUSD", OP_BUY, 0.4, 1.1, 0, 0, "[split]", 5, 1700000100));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(diff(a, b, out), 2);
  CHECK_EQ(out[0].action, string("close"));
  CHECK_EQ(out[0].new_ticket, 11);
  CHECK_EQ(JsonNumber(out[0].volume, 8), string("0.6"));
  CHECK_EQ(out[1].action, string("open"));
  CHECK_EQ(out[1].ticket, 12);
}

TEST(test_master_does_not_mistake_from_comment_of_other_ticket) {
  CHECK(CgCommentSaysFrom("from #10", 10));
  CHECK(!CgCommentSaysFrom("from #101", 10));
  CHECK(CgCommentSaysFrom("x from #10[sl]", 10));
}

TEST(test_master_snapshot_survives_serialize_load) {
  MqlArray<SOrderRow> a, b;
  push(a, row(10, "EURUSD", OP_SELL, 1.0, 1.10001, 1.2, 0.9, "c\"x", 5, 1700000100));
  CHECK(CgLoadRows(CgSerializeRows(a), b));
  MqlArray<SOrderIntent> out;
  CHECK_EQ(ArraySize(b), 1);
  CHECK_EQ(diff(a, b, out), 0);
  CHECK_EQ(b[0].comment, string("c\"x"));
}

// ---------------------------------------------------------------- trade math, safety
TEST(test_trade_retry_policy_matches_mt4_error_classes) {
  CHECK_EQ(CgRetryClass(135), CG_RETRY_REFRESH);
  CHECK_EQ(CgRetryClass(136), CG_RETRY_REFRESH);
  CHECK_EQ(CgRetryClass(138), CG_RETRY_REFRESH);
  CHECK_EQ(CgRetryClass(146), CG_RETRY_WAIT);
  CHECK_EQ(CgRetryClass(128), CG_RETRY_CHECK);
  CHECK_EQ(CgRetryClass(134), CG_RETRY_FINAL);
  CHECK_EQ(CgRetryClass(130), CG_RETRY_FINAL);
  for (int busy : {4, 6, 8, 137, 141}) CHECK_EQ(CgRetryClass(busy), CG_RETRY_WAIT);
  CHECK_EQ(CgRetryClass(129), CG_RETRY_REFRESH);
  CHECK_EQ(CgRetryClass(2), CG_RETRY_FINAL);
}

TEST(test_trade_retry_delays_back_off_and_are_capped) {
  CHECK_EQ(CgRetryClass(145), CG_RETRY_FREEZE);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_REFRESH, 1), 50);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_CHECK, 3), 1000);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_WAIT, 1), 500);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_WAIT, 2), 1000);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_WAIT, 3), 2000);
  CHECK_EQ(CgRetryDelayMs(CG_RETRY_WAIT, 10), 8000);
}

TEST(test_trade_orders_within_the_freeze_level_are_frozen) {
  // bid 1.1000 / ask 1.1002, freeze level 0.0005 (50 points of 0.00001)
  const double bid = 1.1, ask = 1.1002, fl = 0.0005, pt = 0.00001;
  struct Row { int type; double open, sl, tp; bool frozen; };
  const Row rows[] = {
      {OP_BUY, 1.09, 1.0996, 0, true},     // bid - SL = 4 pips
      {OP_BUY, 1.09, 1.0995, 0, true},     // exactly the level: not beyond it
      {OP_BUY, 1.09, 1.0994, 0, false},
      {OP_BUY, 1.09, 0, 1.1004, true},     // TP - bid
      {OP_BUY, 1.09, 0, 0, false},         // no stops: never frozen
      {OP_SELL, 1.11, 1.1006, 0, true},    // SL - ask
      {OP_SELL, 1.11, 0, 1.0990, false},   // ask - TP = 12 pips
      {OP_BUYLIMIT, 1.0999, 0, 0, true},   // ask - open
      {OP_BUYLIMIT, 1.0990, 0, 0, false},
      {OP_SELLLIMIT, 1.1004, 0, 0, true},  // open - bid
      {OP_BUYSTOP, 1.1006, 0, 0, true},    // open - ask
      {OP_BUYSTOP, 1.1010, 0, 0, false},
      {OP_SELLSTOP, 1.0996, 0, 0, true},   // bid - open
      {OP_SELLSTOP, 1.0990, 0, 0, false},
  };
  for (const Row &r : rows)
    CHECK(CgWithinFreezeLevel(r.type, r.open, r.sl, r.tp, bid, ask, fl, pt) == r.frozen);
  CHECK(!CgWithinFreezeLevel(OP_BUY, 1.09, 1.0999, 0, bid, ask, 0, pt));  // no freeze level
}

TEST(test_trade_prices_snap_to_the_tick_size) {
  CHECK(CgNormalizePrice(2300.12, 0.05, 2) == 2300.10);
  CHECK(CgNormalizePrice(2300.13, 0.05, 2) == 2300.15);
  CHECK(CgNormalizePrice(101.3, 0.25, 2) == 101.25);
  CHECK(CgNormalizePrice(1.234567, 0.00001, 5) == 1.23457);
  CHECK(CgNormalizePrice(1.234567, 0, 5) == 1.23457);
  CHECK(CgNormalizePrice(0, 0.05, 2) == 0.0);
}

TEST(test_trade_stops_keep_the_broker_minimum_distance) {
  // buy at bid 1.1000, STOPLEVEL 0.0005: SL at most 1.0995, TP at least 1.1005
  CHECK(CgRespectStopLevel(1.0999, 1.1, true, true, 0.0005) == 1.1 - 0.0005);
  CHECK(CgRespectStopLevel(1.0900, 1.1, true, true, 0.0005) == 1.09);
  CHECK(CgRespectStopLevel(1.1001, 1.1, true, false, 0.0005) == 1.1 + 0.0005);
  CHECK(CgRespectStopLevel(1.1001, 1.1, false, true, 0.0005) == 1.1 + 0.0005);
  CHECK(CgRespectStopLevel(1.0999, 1.1, false, false, 0.0005) == 1.1 - 0.0005);
  CHECK(CgRespectStopLevel(0, 1.1, true, true, 0.0005) == 0.0);
}

TEST(test_trade_slippage_handles_fractional_quotes) {
  CHECK_EQ(CgPipFactor(5), 10);
  CHECK_EQ(CgPipFactor(3), 10);
  CHECK_EQ(CgPipFactor(4), 1);
  CHECK_EQ(CgPipFactor(2), 1);
  CHECK_EQ(CgSlippagePoints(3, 5), 30);
  CHECK_EQ(CgSlippagePoints(3, 4), 3);
}

TEST(test_trade_lots_round_down_to_step_and_respect_limits) {
  CHECK_EQ(JsonNumber(CgNormalizeLots(0.129, 0.01, 0.01, 100), 8), string("0.12"));
  CHECK_EQ(JsonNumber(CgNormalizeLots(0.3, 0.1, 0.1, 100), 8), string("0.3"));
  CHECK(CgNormalizeLots(0.005, 0.01, 0.01, 100) == 0.0);
  CHECK_EQ(JsonNumber(CgNormalizeLots(250, 0.01, 0.01, 100), 8), string("100"));
  CHECK(CgMarketPrice(true, true, 1.0, 1.1) == 1.1);
  CHECK(CgMarketPrice(true, false, 1.0, 1.1) == 1.0);
  CHECK(CgMarketPrice(false, true, 1.0, 1.1) == 1.0);
  CHECK(CgMarketPrice(false, false, 1.0, 1.1) == 1.1);
}

TEST(test_safety_blocks_openings_only) {
  CSafetyPolicy p;
  string why;
  p.Configure(1.0, 2, "EURUSD, XAUUSD", false);
  CHECK_EQ(p.CheckOpen("EURUSD", 1.0, 1, why), 0);
  CHECK_EQ(p.CheckOpen("GBPUSD", 0.1, 0, why), CG_ERR_SYMBOL_NOT_ALLOWED);
  CHECK_EQ(p.CheckOpen("EURUSD", 1.01, 0, why), CG_ERR_MAX_LOTS);
  CHECK_EQ(p.CheckOpen("EURUSD", 0.1, 2, why), CG_ERR_MAX_ORDERS);
  p.SetKillSwitch(true);
  CHECK_EQ(p.CheckOpen("EURUSD", 0.1, 0, why), CG_ERR_KILL_SWITCH);
  CHECK(why != "");
  p.Configure(0, 0, "", false);
  CHECK_EQ(p.CheckOpen("ANY", 1000, 1000, why), 0);
}

// ---------------------------------------------------------------- websocket codec
TEST(test_ws_accept_value_matches_rfc6455_example) {
  CHECK_EQ(CgWsAcceptFor("dGhlIHNhbXBsZSBub25jZQ=="), string("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  CHECK_EQ(CgWsCheckHandshake(head, "dGhlIHNhbXBsZSBub25jZQ=="), 101);
  CHECK_EQ(CgWsCheckHandshake(head, "AAAAAAAAAAAAAAAAAAAAAA=="), -1);
  CHECK_EQ(CgWsCheckHandshake("HTTP/1.1 401 Unauthorized\r\n\r\n", "x"), 401);
}

TEST(test_ws_client_frames_are_masked) {
  MqlArray<uchar> payload, mask, out;
  StringToCharArray("Hello", payload, 0, 5, CP_UTF8);
  ArrayResize(mask, 4);
  mask[0] = 0x37;
  mask[1] = 0xfa;
  mask[2] = 0x21;
  mask[3] = 0x3d;
  CgWsBuildFrame(WS_OP_TEXT, payload, mask, out);
  // RFC 6455 section 5.7: a masked "Hello"
  const int want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  CHECK_EQ(ArraySize(out), 11);
  for (int k = 0; k < 11 && k < ArraySize(out); k++) CHECK_EQ((int)out[k], want[k]);
  MqlArray<uchar> big, out2;
  ArrayResize(big, 300);
  CgWsBuildFrame(WS_OP_TEXT, big, mask, out2);
  CHECK_EQ(ArraySize(out2), 2 + 2 + 4 + 300);
  CHECK_EQ((int)out2[1], 0x80 | 126);
}

TEST(test_ws_parser_reads_server_frames_incrementally) {
  MqlArray<uchar> buf, payload;
  ArrayResize(buf, 4 + 200);
  buf[0] = 0x81;
  buf[1] = 126;
  buf[2] = 0;
  buf[3] = 200;
  for (int k = 0; k < 200; k++) buf[4 + k] = (uchar)('a' + k % 26);
  int op = -1, used = 0;
  bool fin = false;
  CHECK_EQ(CgWsParseFrame(buf, 3, op, fin, payload, used), WS_PARSE_MORE);
  CHECK_EQ(CgWsParseFrame(buf, 100, op, fin, payload, used), WS_PARSE_MORE);
  CHECK_EQ(CgWsParseFrame(buf, 204, op, fin, payload, used), WS_PARSE_FRAME);
  CHECK_EQ(op, WS_OP_TEXT);
  CHECK(fin);
  CHECK_EQ(used, 204);
  CHECK_EQ(ArraySize(payload), 200);
  MqlArray<uchar> close;
  ArrayResize(close, 4);
  close[0] = 0x88;
  close[1] = 2;
  close[2] = 0x0F;
  close[3] = 0xA1;  // 4001
  CHECK_EQ(CgWsParseFrame(close, 4, op, fin, payload, used), WS_PARSE_FRAME);
  CHECK_EQ(op, WS_OP_CLOSE);
  CHECK_EQ(CgWsCloseCode(payload), 4001);
  MqlArray<uchar> masked;
  ArrayResize(masked, 2);
  masked[0] = 0x81;
  masked[1] = 0x80;
  CHECK_EQ(CgWsParseFrame(masked, 2, op, fin, payload, used), WS_PARSE_ERROR);
}

TEST(test_ws_parser_fails_the_link_on_unknown_opcodes) {
  MqlArray<uchar> buf, payload;
  int op = -1, used = 0;
  bool fin = false;
  for (int code : {3, 7, 11, 15}) {
    ArrayResize(buf, 2);
    buf[0] = (uchar)(0x80 | code);
    buf[1] = 0;
    CHECK_EQ(CgWsParseFrame(buf, 2, op, fin, payload, used), WS_PARSE_ERROR);
  }
}

TEST(test_ws_parser_reads_consecutive_frames_in_place_at_an_offset) {
  MqlArray<uchar> buf, payload;
  ArrayResize(buf, 3 * 1000);
  for (int f = 0; f < 1000; f++) {
    buf[3 * f] = 0x81;
    buf[3 * f + 1] = 1;
    buf[3 * f + 2] = (uchar)('a' + f % 26);
  }
  int op = -1, used = 0, pos = 0, frames = 0;
  bool fin = false;
  while (CgWsParseFrameAt(buf, pos, 3 * 1000, op, fin, payload, used) == WS_PARSE_FRAME) {
    CHECK_EQ((int)payload[0], 'a' + frames % 26);
    pos += used;
    frames++;
  }
  CHECK_EQ(frames, 1000);
  CHECK_EQ(pos, 3000);
}

TEST(test_ws_message_text_is_decoded_after_the_last_fragment) {
  // "é" is 0xC3 0xA9 in UTF-8; the fragments split it in the middle
  MqlArray<uchar> message, first, second;
  ArrayResize(first, 2);
  first[0] = 'x';
  first[1] = 0xC3;
  ArrayResize(second, 2);
  second[0] = 0xA9;
  second[1] = 'y';
  int length = 0;
  CgWsAppendBytes(message, length, first);
  CgWsAppendBytes(message, length, second);
  CHECK_EQ(length, 4);
  CHECK_EQ(CgWsMessageText(message, length), string("x\xc3\xa9y"));
}

// ---------------------------------------------------------------- snapshot parts
static MqlArray<SOrderRow> many_rows(int n) {
  MqlArray<SOrderRow> rows;
  for (int i = 0; i < n; i++)
    push(rows, row(5000 + i, "SYM10042", i % 3 == 0 ? OP_BUYLIMIT : OP_SELL, 0.01 * (1 + i % 7), 1.23456,
                   1.2, 1.3, "copied from the master #123456789", 20251122));
  return rows;
}

TEST(test_snapshot_wire_order_puts_positions_before_pending_orders) {
  MqlArray<SOrderRow> rows, ordered;
  push(rows, row(1, "EURUSD", OP_BUYLIMIT, 0.1, 1.1));
  push(rows, row(2, "EURUSD", OP_SELL, 0.1, 1.1));
  push(rows, row(3, "EURUSD", OP_SELLSTOP, 0.1, 1.1));
  push(rows, row(4, "EURUSD", OP_BUY, 0.1, 1.1));
  CgSnapshotWireOrder(rows, ordered);
  CHECK_EQ(ArraySize(ordered), 4);
  CHECK(ordered[0].ticket == 2 && ordered[1].ticket == 4 && ordered[2].ticket == 1 && ordered[3].ticket == 3);
}

TEST(test_snapshot_of_500_orders_splits_into_parts_far_below_the_message_cap) {
  MqlArray<SOrderRow> rows = many_rows(500), ordered;
  CgSnapshotWireOrder(rows, ordered);
  MqlArray<int> starts;
  int parts = CgPlanSnapshotParts(ordered, CG_SNAPSHOT_PART_BYTES, starts);
  SAccountInfo a;
  a.balance = 10000;
  a.equity = 10000;
  a.currency = "USD";
  a.leverage = 100;
  CHECK(CgUtf8Bytes(CgEncodeSyncSnapshot("ea-1", 1, rows, a, "")) > 60000);
  CHECK(parts > 1);
  CHECK_EQ(starts[0], 0);
  int covered = 0;
  for (int k = 0; k < parts; k++) {
    int to = k + 1 < parts ? starts[k + 1] : ArraySize(ordered);
    CHECK(to > starts[k]);  // no empty part
    covered += to - starts[k];
    string json = CgEncodeSnapshotRange("ea-p", 1, ordered, starts[k], to, a, "rq", "ea-s", k + 1, parts);
    CHECK(CgUtf8Bytes(json) <= CG_SNAPSHOT_PART_BYTES + 1000);
    CHECK(StringFind(json, "\"snapshot_id\":\"ea-s\"") > 0);
    CHECK(StringFind(json, "\"part\":" + IntegerToString(k + 1) + ",\"parts\":" + IntegerToString(parts)) > 0);
  }
  CHECK_EQ(covered, 500);
}

TEST(test_snapshot_plan_of_no_rows_is_one_empty_part) {
  MqlArray<SOrderRow> rows;
  MqlArray<int> starts;
  CHECK_EQ(CgPlanSnapshotParts(rows, CG_SNAPSHOT_PART_BYTES, starts), 1);
  CHECK_EQ(starts[0], 0);
}

// ---------------------------------------------------------------- runner
static int run_core_tests(const std::string &filter) {
  int failures = 0, run = 0;
  for (auto &c : core_tests::registry()) {
    if (!filter.empty() && std::string(c.name) != filter) continue;
    core_tests::failed() = false;
    c.fn();
    run++;
    std::cout << (core_tests::failed() ? "FAIL " : "PASS ") << c.name << "\n";
    if (core_tests::failed()) failures++;
  }
  std::cout << run << " run, " << failures << " failed\n";
  return failures == 0 ? 0 : 1;
}
