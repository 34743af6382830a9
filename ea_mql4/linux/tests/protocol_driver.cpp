// protocol_driver.cpp -- drives the EA's protocol core (compiled from the EA's
// own .mqh files after the pre-pass) for the pytest suite:
//
//   protocol_driver decode <server envelope .json>   -> decode dump (key=value)
//   protocol_driver encode <client case .kv>         -> the EA's encoded JSON
//   protocol_driver rest <session_created|exchange_response|error_body> <file>
//   protocol_driver body <session_create|exchange>   -> REST bodies the EA sends
//   protocol_driver selftest [name]                  -> unit tests of the pure modules
//
// The fixtures are generated from the gateway's models by
// ea_mql4/tools/gen_fixtures.py.
#include <CopyGateway/Core.mqh>

#include <fstream>
#include <iostream>
#include <sstream>

static string read_file(const char *path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return string(s.c_str());
}

static void out(const string &line) { std::cout << line.utf8() << "\n"; }
static string q(const string &s) { return JsonQuote(s); }
static string n(double v) { return JsonNumber(v, 8); }
static string i(long v) { return IntegerToString(v); }

static void dump_message(const SServerMessage &m) {
  if (m.kind == CG_MSG_INVALID) {
    out("kind=invalid");
    std::cerr << "invalid: " << m.error.utf8() << "\n";
    return;
  }
  out("kind=" + m.type);
  out("id=" + q(m.id));
  out("ts=" + i(m.ts));
  out("seq=" + i(m.seq));
  switch (m.kind) {
    case CG_MSG_INIT_ACK:
      out("session_id=" + q(m.session_id));
      out("role=" + q(m.role));
      out("heartbeat_interval_s=" + n(m.heartbeat_interval_s));
      out("heartbeat_timeout_s=" + n(m.heartbeat_timeout_s));
      out("max_snapshot_parts=" + i(m.max_snapshot_parts));
      break;
    case CG_MSG_STATE_CHANGE:
      out("state=" + q(m.state));
      out("reason=" + q(m.reason));
      break;
    case CG_MSG_ORDER_COMMAND: {
      const SOrderCommand &c = m.command;
      out("command_id=" + q(c.command_id));
      out("action=" + q(c.action));
      out("symbol=" + q(c.symbol));
      out("side=" + q(c.side));
      out("order_type=" + q(c.order_type));
      out("volume=" + n(c.volume));
      out("master_ticket=" + i(c.master_ticket));
      out("ticket=" + i(c.ticket));
      out("price=" + n(c.price));
      out("sl=" + n(c.sl));
      out("tp=" + n(c.tp));
      out("max_slippage_points=" + i(c.max_slippage_points));
      out("expires_at=" + i(c.expires_at));
      out("master_account_id=" + q(c.master_account_id));
      out("magic=" + (c.has_magic ? i(c.magic) : string("none")));
      out("comment=" + q(c.comment));
      break;
    }
    case CG_MSG_SNAPSHOT_REQUEST:
      out("request_id=" + q(m.request_id));
      out("reason=" + q(m.reason));
      break;
    case CG_MSG_ERROR_ALERT:
      out("code=" + q(m.code));
      out("severity=" + q(m.severity));
      out("message=" + q(m.message));
      out("ref_id=" + q(m.ref_id));
      out("retry_after_ms=" + i(m.retry_after_ms));
      break;
    case CG_MSG_RECEIPT: {
      std::string ids = m.receipt_ids.utf8();
      size_t start = 0;
      while (start <= ids.size()) {
        size_t end = ids.find('\n', start);
        if (end == std::string::npos) end = ids.size();
        out("receipt_id=" + q(string(ids.substr(start, end - start).c_str())));
        start = end + 1;
      }
      break;
    }
    case CG_MSG_SHUTDOWN:
      out("reason=" + q(m.reason));
      out("reconnect_after_s=" + n(m.reconnect_after_s));
      out("message=" + q(m.message));
      break;
  }
}

static int cmd_decode(const char *path) {
  CJsonDoc doc;
  SServerMessage m;
  if (!doc.Parse(read_file(path))) {
    std::cerr << "parse error: " << doc.Error().utf8() << "\n";
    out("kind=invalid");
    return 0;
  }
  CgDecodeServerMessage(doc, doc.Root(), m);
  dump_message(m);
  return 0;
}

// ---------------------------------------------------------------- encode
struct Kv {
  std::vector<std::pair<std::string, std::string>> items;
  std::string get(const std::string &k, const std::string &def = "") const {
    for (auto &p : items)
      if (p.first == k) return p.second;
    return def;
  }
  bool has(const std::string &k) const {
    for (auto &p : items)
      if (p.first == k) return true;
    return false;
  }
  string s(const std::string &k) const { return string(get(k).c_str()); }
  double d(const std::string &k) const { return std::strtod(get(k, "0").c_str(), nullptr); }
  long l(const std::string &k) const { return std::strtol(get(k, "0").c_str(), nullptr, 10); }
};

static Kv read_kv(const char *path) {
  Kv kv;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1), unescaped;
    for (size_t k = 0; k < v.size(); k++) {
      if (v[k] == '\\' && k + 1 < v.size() && v[k + 1] == 'n') {
        unescaped.push_back('\n');
        k++;
      } else {
        unescaped.push_back(v[k]);
      }
    }
    kv.items.emplace_back(line.substr(0, eq), unescaped);
  }
  return kv;
}

static std::vector<std::string> split_bar(const std::string &s) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == '|') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  return parts;
}

static void account_from(const Kv &kv, SAccountInfo &a) {
  a.balance = kv.d("balance");
  a.equity = kv.d("equity");
  a.margin_level = kv.d("margin_level");
  a.currency = kv.s("currency");
  a.leverage = (int)kv.l("leverage");
}

static int cmd_encode(const char *path) {
  Kv kv = read_kv(path);
  std::string type = kv.get("type");
  string id = kv.s("id");
  long ts = kv.l("ts");
  SAccountInfo account;
  account_from(kv, account);
  string json;
  if (type == "InitRequest") {
    MqlArray<SSymbolSpec> symbols;
    for (auto &p : kv.items) {
      if (p.first != "symbol") continue;
      auto f = split_bar(p.second);
      int k = ArraySize(symbols);
      ArrayResize(symbols, k + 1);
      symbols[k].symbol = string(f[0].c_str());
      symbols[k].digits = std::atoi(f[1].c_str());
      symbols[k].point = std::strtod(f[2].c_str(), nullptr);
      symbols[k].contract_size = std::strtod(f[3].c_str(), nullptr);
      symbols[k].lot_step = std::strtod(f[4].c_str(), nullptr);
      symbols[k].min_lot = std::strtod(f[5].c_str(), nullptr);
      symbols[k].max_lot = std::strtod(f[6].c_str(), nullptr);
      symbols[k].tick_value = 0;
      symbols[k].tick_size = 0;
    }
    json = CgEncodeInitRequest(id, ts, kv.l("ack_seq"), account, symbols);
  } else if (type == "StatusHeartbeat") {
    json = CgEncodeHeartbeat(id, ts, kv.l("ack_seq"), account);
  } else if (type == "OrderIntent") {
    SOrderIntent p;
    p.action = kv.s("action");
    p.ticket = (int)kv.l("ticket");
    p.symbol = kv.s("symbol");
    p.side = kv.s("side");
    p.order_type = kv.s("order_type");
    p.volume = kv.d("volume");
    p.price = kv.d("price");
    p.sl = kv.d("sl");
    p.tp = kv.d("tp");
    p.has_magic = kv.has("magic");
    p.magic = (int)kv.l("magic");
    p.comment = kv.s("comment");
    p.new_ticket = (int)kv.l("new_ticket");
    p.from_pending = false;
    p.event_time_ms = 0;
    json = CgEncodeOrderIntent(id, ts, p);
  } else if (type == "ExecutionReport") {
    SExecutionReport r;
    CgResetReport(r);
    r.command_id = kv.s("command_id");
    r.status = kv.s("status");
    r.ticket = (int)kv.l("ticket");
    r.symbol = kv.s("symbol");
    if (kv.has("volume")) r.volume = kv.d("volume");
    if (kv.has("price")) r.price = kv.d("price");
    r.has_error_code = kv.has("error_code");
    r.error_code = (int)kv.l("error_code");
    r.error_message = kv.s("error_message");
    r.new_ticket = (int)kv.l("new_ticket");
    r.executed_at_ms = kv.l("executed_at_ms");
    json = CgEncodeExecutionReport(id, ts, r);
  } else if (type == "SyncSnapshot") {
    MqlArray<SOrderRow> rows;
    for (auto &p : kv.items) {
      if (p.first != "row") continue;
      auto f = split_bar(p.second);
      int k = ArraySize(rows);
      ArrayResize(rows, k + 1);
      rows[k].ticket = std::atoi(f[0].c_str());
      rows[k].symbol = string(f[1].c_str());
      rows[k].type = std::atoi(f[2].c_str());
      rows[k].lots = std::strtod(f[3].c_str(), nullptr);
      rows[k].open_price = std::strtod(f[4].c_str(), nullptr);
      rows[k].sl = std::strtod(f[5].c_str(), nullptr);
      rows[k].tp = std::strtod(f[6].c_str(), nullptr);
      rows[k].magic = std::atoi(f[7].c_str());
      rows[k].comment = string(f[8].c_str());
      rows[k].open_time = 0;
    }
    json = CgEncodeSyncSnapshot(id, ts, rows, account, kv.s("request_id"));
  } else if (type == "ErrorAlert") {
    json = CgEncodeErrorAlert(id, ts, kv.s("code"), kv.s("severity"), kv.s("message"), kv.s("ref_id"));
  } else if (type == "ShutdownNotice") {
    json = CgEncodeShutdownNotice(id, ts, kv.s("reason"));
  } else {
    std::cerr << "unknown type " << type << "\n";
    return 2;
  }
  out(json);
  return 0;
}

static int cmd_rest(const std::string &what, const char *path) {
  string body = read_file(path);
  if (what == "session_created") {
    SSessionCreated c;
    if (!CgDecodeSessionCreated(body, c)) return 1;
    out("session_id=" + q(c.session_id));
    out("state=" + q(c.state));
    out("session_token=" + q(c.session_token));
    out("heartbeat_interval_s=" + n(c.heartbeat_interval_s));
    out("heartbeat_timeout_s=" + n(c.heartbeat_timeout_s));
    return 0;
  }
  if (what == "exchange_response") {
    CJsonDoc doc;
    string state;
    if (!doc.Parse(body) || !doc.GetString(doc.Root(), "state", state)) return 1;
    int msgs = doc.Find(doc.Root(), "messages");
    out("state=" + q(state));
    out("messages=" + i(doc.Count(msgs)));
    string kinds;
    for (int c = doc.First(msgs); c >= 0; c = doc.Next(c)) {
      SServerMessage m;
      CgDecodeServerMessage(doc, c, m);
      if (kinds != "") kinds += ",";
      kinds += (m.kind == CG_MSG_INVALID ? string("invalid") : m.type);
    }
    out("kinds=" + kinds);
    return 0;
  }
  if (what == "error_body") {
    string code, message;
    if (!CgDecodeErrorBody(body, code, message)) return 1;
    out("code=" + q(code));
    out("message=" + q(message));
    return 0;
  }
  return 2;
}

static int cmd_body(const std::string &what) {
  if (what == "session_create") {
    out(CgEncodeSessionCreate("demo-1001", "k3y-\"x\"", 1440));
    return 0;
  }
  if (what == "exchange") {
    MqlArray<string> msgs;
    SAccountInfo a;
    a.balance = 100;
    a.equity = 99.5;
    a.margin_level = 0;
    a.currency = "USD";
    a.leverage = 100;
    ArrayResize(msgs, 2);
    msgs[0] = CgEncodeHeartbeat("i-1", 1763800000123, 12, a);
    msgs[1] = CgEncodeShutdownNotice("i-2", 1763800000124, "client_shutdown");
    out(CgEncodeExchange(msgs, 2, 12, 250));
    return 0;
  }
  return 2;
}

#include "core_tests.h"

int main(int argc, char **argv) {
  if (argc >= 3 && std::string(argv[1]) == "decode") return cmd_decode(argv[2]);
  if (argc >= 3 && std::string(argv[1]) == "encode") return cmd_encode(argv[2]);
  if (argc >= 4 && std::string(argv[1]) == "rest") return cmd_rest(argv[2], argv[3]);
  if (argc >= 3 && std::string(argv[1]) == "body") return cmd_body(argv[2]);
  if (argc >= 2 && std::string(argv[1]) == "selftest") return run_core_tests(argc > 2 ? argv[2] : "");
  std::cerr << "usage: protocol_driver decode|encode|rest|selftest ...\n";
  return 2;
}
