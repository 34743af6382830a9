// terminal.cpp -- a small simulated MT4 terminal for running the real EA on Linux.
//
//  * trade functions over a simulated book (market/pending orders, partial
//    closes with "from #<ticket>" remainders, pending fills, SL/TP hits,
//    requotes, injected errors, busy trade context);
//  * MarketInfo/account/terminal info;
//  * files under $MQL_FILES_DIR (like MQL4/Files);
//  * WebRequest as a real HTTP/1.1 client over POSIX sockets, with MT4's
//    limits: GET/POST/HEAD only, URLs in the allowed list of the terminal
//    options ($MQL_WEBREQUEST_ALLOW) only, ports 80/443 only. Tests reach their
//    loopback server through $MQL_ADDRESS_MAP ("host:443=127.0.0.1:8123,...",
//    like a hosts file with a port): a mapped https:// address is spoken to in
//    plain HTTP; an unmapped https:// address fails (the shim has no TLS);
//  * FileOpen refuses names Windows would refuse (<>:"/|?* in a component,
//    reserved device names such as CON or NUL), as MT4 on Windows does;
//  * the event loop: OnInit, OnTimer at EventSetMillisecondTimer's period,
//    OnTick on quote changes, OnDeinit; control commands on stdin (see
//    handle_command), replies on stdout as lines starting with "@@ ";
//  * the broker's STOPLEVEL ($MQL_SIM_STOP_LEVEL, error 130) and FREEZELEVEL
//    ($MQL_SIM_FREEZE_LEVEL, points: no modify/close/delete of an order whose
//    SL/TP or pending price is that close to the market, error 145);
//  * a broker that outlives the terminal: with $MQL_SIM_BOOK the book (open
//    orders, history, next ticket, balance) is saved after every trade and
//    loaded at start;
//  * crash injection: $MQL_CRASH_AT="<point>:<n>" ends the process with
//    _exit(86) right after the n-th occurrence of <point> -- "OrderSend",
//    "OrderClose", "OrderModify", "OrderDelete" (after the broker executed it),
//    "FileMove:<file name>" (after a state file was saved) or
//    "WebRequest:<OrderIntent|ExecutionReport>" (a 200 to a body carrying one
//    came back, before the EA could record the confirmation) or, in the DLL
//    build, "send:<OrderIntent|ExecutionReport>" (a WebSocket frame carrying
//    one was written, no Receipt yet) -- as a
//    terminal crash or power cut would, without OnDeinit.
#include "mql4_shim.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

// ---------------------------------------------------------------- state
struct SimSymbol {
  std::string name;
  int digits;
  double point, bid, ask, lot_step, min_lot, max_lot, contract, stop_level;
  double freeze_level = 0;  // MODE_FREEZELEVEL, points
  bool selected = true;  // shown in Market Watch (MarketInfo fails with 4106 otherwise)
};
struct SimOrder {
  int ticket = 0;
  std::string symbol, comment;
  int type = 0;
  double lots = 0, open_price = 0, sl = 0, tp = 0, close_price = 0;
  int magic = 0;
  datetime open_time = 0, close_time = 0, expiration = 0;
};
struct Injection {
  int code = 0;
  int count = 0;
  bool after = false;  // execute, then report the error (e.g. 128 timeout that went through)
};

static std::vector<SimSymbol> g_symbols;
static std::vector<SimOrder> g_open, g_history;
static SimOrder g_sel;
static bool g_has_sel = false;
static int g_next_ticket = 1000;
static double g_balance = 10000.0;
static std::map<std::string, Injection> g_inject;
static std::chrono::steady_clock::time_point g_busy_until;
static int g_timer_ms = 0;
static std::atomic<bool> g_stop{false};
static bool g_expert_remove = false;
static bool g_quotes_changed = false;

static std::string env(const char *name, const char *def) {
  const char *v = std::getenv(name);
  return v ? v : def;
}
static SimSymbol *find_symbol(const std::string &name) {
  for (auto &s : g_symbols)
    if (s.name == name) return &s;
  return nullptr;
}
static SimOrder *find_open(int ticket) {
  for (auto &o : g_open)
    if (o.ticket == ticket) return &o;
  return nullptr;
}
static bool is_buy(int type) { return type == OP_BUY || type == OP_BUYLIMIT || type == OP_BUYSTOP; }
static bool is_pending(int type) { return type >= OP_BUYLIMIT && type <= OP_SELLSTOP; }
static double round_to(double v, int digits) {
  double p = std::pow(10.0, digits);
  return std::round(v * p) / p;
}
static bool fail(int code) {
  mql_set_last_error(code);
  return false;
}
// consumes an injected error for `fn`; returns the code (0 = none)
static int injected(const std::string &fn, bool &after) {
  auto it = g_inject.find(fn);
  if (it == g_inject.end() || it->second.count <= 0) return 0;
  it->second.count--;
  after = it->second.after;
  return it->second.code;
}
static bool lots_ok(const SimSymbol &s, double lots) {
  if (lots < s.min_lot - 1e-9 || lots > s.max_lot + 1e-9) return false;
  double steps = lots / s.lot_step;
  return std::fabs(steps - std::round(steps)) < 1e-6;
}
static double profit_of(const SimOrder &o) {
  SimSymbol *s = find_symbol(o.symbol);
  if (!s || is_pending(o.type)) return 0;
  double px = o.close_time ? o.close_price : (o.type == OP_BUY ? s->bid : s->ask);
  double diff = o.type == OP_BUY ? px - o.open_price : o.open_price - px;
  return diff * o.lots * s->contract / (o.symbol.find("JPY") != std::string::npos ? px : 1.0) /
         (o.symbol.rfind("USD", 0) == 0 ? px : 1.0);
}

static void init_market() {
  g_symbols = {
      {"EURUSD", 5, 0.00001, 1.10000, 1.10010, 0.01, 0.01, 100, 100000, 0},
      {"GBPUSD", 5, 0.00001, 1.27000, 1.27012, 0.01, 0.01, 100, 100000, 0},
      {"USDJPY", 3, 0.001, 150.000, 150.015, 0.01, 0.01, 100, 100000, 0},
      {"XAUUSD", 2, 0.01, 2300.00, 2300.30, 0.01, 0.01, 50, 100, 0},
  };
  // A broker with many symbols in Market Watch (size limits of InitRequest).
  int extra = std::atoi(env("MQL_SIM_EXTRA_SYMBOLS", "0").c_str());
  for (int i = 0; i < extra; i++) {
    SimSymbol s = g_symbols[0];
    s.name = "SYM" + std::to_string(10000 + i);
    g_symbols.push_back(s);
  }
  double stop_level = std::atof(env("MQL_SIM_STOP_LEVEL", "0").c_str());
  double freeze_level = std::atof(env("MQL_SIM_FREEZE_LEVEL", "0").c_str());
  for (auto &s : g_symbols) s.stop_level = stop_level, s.freeze_level = freeze_level;
  // Comma list of symbols the broker has but Market Watch does not show.
  std::string hidden = "," + env("MQL_SIM_HIDDEN_SYMBOLS", "") + ",";
  for (auto &s : g_symbols)
    if (hidden.find("," + s.name + ",") != std::string::npos) s.selected = false;
  g_next_ticket = std::atoi(env("MQL_SIM_FIRST_TICKET", "1000").c_str());
  g_balance = std::atof(env("MQL_SIM_BALANCE", "10000").c_str());
}

// ---------------------------------------------------------------- persistent broker
static void save_order(std::ostream &out, const char *pool, const SimOrder &o) {
  out << pool << '\t' << o.ticket << '\t' << o.symbol << '\t' << o.type << '\t' << o.lots << '\t'
      << o.open_price << '\t' << o.sl << '\t' << o.tp << '\t' << o.close_price << '\t' << o.magic
      << '\t' << o.open_time << '\t' << o.close_time << '\t' << o.expiration << '\t' << o.comment
      << '\n';
}
static void save_book() {
  std::string path = env("MQL_SIM_BOOK", "");
  if (path.empty()) return;
  std::ostringstream out;
  out.precision(10);
  out << "next\t" << g_next_ticket << "\nbalance\t" << g_balance << "\n";
  for (auto &o : g_open) save_order(out, "open", o);
  for (auto &o : g_history) save_order(out, "history", o);
  FILE *fp = std::fopen((path + ".tmp").c_str(), "wb");
  if (!fp) return;
  std::string text = out.str();
  std::fwrite(text.data(), 1, text.size(), fp);
  std::fclose(fp);
  std::rename((path + ".tmp").c_str(), path.c_str());
}
static void load_book() {
  std::string path = env("MQL_SIM_BOOK", "");
  FILE *fp = path.empty() ? nullptr : std::fopen(path.c_str(), "rb");
  if (!fp) return;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, n);
  std::fclose(fp);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string pool;
    std::getline(in, pool, '\t');
    if (pool == "next") in >> g_next_ticket;
    if (pool == "balance") in >> g_balance;
    if (pool != "open" && pool != "history") continue;
    SimOrder o;
    long long open_time = 0, close_time = 0, expiration = 0;
    in >> o.ticket >> o.symbol >> o.type >> o.lots >> o.open_price >> o.sl >> o.tp >> o.close_price >>
        o.magic >> open_time >> close_time >> expiration;
    o.open_time = (datetime)open_time;
    o.close_time = (datetime)close_time;
    o.expiration = (datetime)expiration;
    in.get();
    std::getline(in, o.comment);
    (pool == "open" ? g_open : g_history).push_back(o);
  }
}
// ends the process at the configured crash point (after the broker state is kept)
static void crash_point(const std::string &point) {
  static std::map<std::string, int> seen;
  std::string at = env("MQL_CRASH_AT", "");
  size_t colon = at.rfind(':');
  if (colon == std::string::npos || at.substr(0, colon) != point) return;
  if (++seen[point] != std::atoi(at.c_str() + colon + 1)) return;
  save_book();
  std::fflush(stdout);  // not fflush(nullptr): the stdin reader holds stdin's lock
  std::fflush(stderr);
  std::_Exit(86);
}

void mql_crash_point(const std::string &point) { crash_point(point); }  // ws2_32.cpp

// ---------------------------------------------------------------- trading
static void move_to_history(SimOrder o, double price, datetime when) {
  o.close_price = price;
  o.close_time = when;
  if (!is_pending(o.type)) g_balance += profit_of(o);
  g_history.push_back(o);
}

// Pending fills and SL/TP hits at the current quotes.
static void sim_step() {
  datetime now = TimeCurrent();
  for (size_t i = 0; i < g_open.size();) {
    SimOrder &o = g_open[i];
    SimSymbol *s = find_symbol(o.symbol);
    if (!s) {
      i++;
      continue;
    }
    if (is_pending(o.type)) {
      bool fill = (o.type == OP_BUYLIMIT && s->ask <= o.open_price) ||
                  (o.type == OP_BUYSTOP && s->ask >= o.open_price) ||
                  (o.type == OP_SELLLIMIT && s->bid >= o.open_price) ||
                  (o.type == OP_SELLSTOP && s->bid <= o.open_price);
      if (fill) {
        o.type = is_buy(o.type) ? OP_BUY : OP_SELL;
        o.open_time = now;
      }
      i++;
      continue;
    }
    double px = o.type == OP_BUY ? s->bid : s->ask;
    bool sl_hit = o.sl > 0 && (o.type == OP_BUY ? px <= o.sl : px >= o.sl);
    bool tp_hit = o.tp > 0 && (o.type == OP_BUY ? px >= o.tp : px <= o.tp);
    if (sl_hit || tp_hit) {
      SimOrder closed = o;
      closed.comment = closed.comment + (sl_hit ? "[sl]" : "[tp]");
      g_open.erase(g_open.begin() + (long)i);
      move_to_history(closed, px, now);
      continue;
    }
    i++;
  }
}

static int do_send(const std::string &symbol, int cmd, double volume, double price, int slippage,
                   double sl, double tp, const std::string &comment, int magic, datetime expiration,
                   bool check_price) {
  SimSymbol *s = find_symbol(symbol);
  if (!s) return fail(4106), -1;
  if (cmd < OP_BUY || cmd > OP_SELLSTOP) return fail(ERR_INVALID_TRADE_PARAMETERS), -1;
  if (!lots_ok(*s, volume)) return fail(ERR_INVALID_TRADE_VOLUME), -1;
  double market = is_buy(cmd) ? s->ask : s->bid;
  if (!is_pending(cmd)) {
    if (check_price && std::fabs(price - market) > slippage * s->point + 1e-9)
      return fail(ERR_REQUOTE), -1;
    price = market;
  } else {
    bool valid = (cmd == OP_BUYLIMIT && price < s->ask) || (cmd == OP_BUYSTOP && price > s->ask) ||
                 (cmd == OP_SELLLIMIT && price > s->bid) || (cmd == OP_SELLSTOP && price < s->bid);
    if (!valid) return fail(ERR_INVALID_PRICE), -1;
  }
  double gap = s->stop_level * s->point - 1e-9;  // STOPLEVEL: the broker's minimum distance
  if (sl > 0 && (is_buy(cmd) ? sl > price - gap : sl < price + gap)) return fail(ERR_INVALID_STOPS), -1;
  if (tp > 0 && (is_buy(cmd) ? tp < price + gap : tp > price - gap)) return fail(ERR_INVALID_STOPS), -1;
  SimOrder o;
  o.ticket = g_next_ticket++;
  o.symbol = symbol;
  o.type = cmd;
  o.lots = volume;
  o.open_price = round_to(price, s->digits);
  o.sl = sl;
  o.tp = tp;
  o.magic = magic;
  o.comment = comment.substr(0, 31);
  o.open_time = TimeCurrent();
  o.expiration = expiration;
  g_open.push_back(o);
  return o.ticket;
}

// FREEZELEVEL (MQL4 book, "Requirements and Limitations in Making Trades"): a
// position whose SL or TP, or a pending order whose open price, is not farther
// than the freeze level from the market cannot be modified, closed or deleted.
static bool frozen(const SimOrder &o) {
  SimSymbol *s = find_symbol(o.symbol);
  if (!s || s->freeze_level <= 0) return false;
  double limit = s->freeze_level * s->point + s->point / 2;  // distance must exceed the level
  switch (o.type) {
    case OP_BUY: return (o.sl > 0 && s->bid - o.sl < limit) || (o.tp > 0 && o.tp - s->bid < limit);
    case OP_SELL: return (o.sl > 0 && o.sl - s->ask < limit) || (o.tp > 0 && s->ask - o.tp < limit);
    case OP_BUYLIMIT: return s->ask - o.open_price < limit;
    case OP_SELLLIMIT: return o.open_price - s->bid < limit;
    case OP_BUYSTOP: return o.open_price - s->ask < limit;
    case OP_SELLSTOP: return s->bid - o.open_price < limit;
  }
  return false;
}

static bool do_close(int ticket, double lots, double price, int slippage, bool check_price) {
  SimOrder *o = find_open(ticket);
  if (!o) return fail(ERR_INVALID_TICKET);
  if (is_pending(o->type)) return fail(ERR_INVALID_TICKET);
  if (frozen(*o)) return fail(ERR_TRADE_MODIFY_DENIED);
  SimSymbol *s = find_symbol(o->symbol);
  if (!lots_ok(*s, lots) || lots > o->lots + 1e-9) return fail(ERR_INVALID_TRADE_VOLUME);
  double market = o->type == OP_BUY ? s->bid : s->ask;
  if (check_price && std::fabs(price - market) > slippage * s->point + 1e-9) return fail(ERR_REQUOTE);
  datetime now = TimeCurrent();
  SimOrder closed = *o;
  double rest = round_to(o->lots - lots, 8);
  if (rest > 1e-9) {
    SimOrder remainder = *o;
    remainder.ticket = g_next_ticket++;
    remainder.lots = rest;
    remainder.comment = "from #" + std::to_string(ticket);
    closed.lots = lots;
    closed.comment = "to #" + std::to_string(remainder.ticket);
    *o = remainder;
  } else {
    g_open.erase(g_open.begin() + (o - g_open.data()));
  }
  move_to_history(closed, market, now);
  return true;
}

static bool do_modify(int ticket, double price, double sl, double tp, datetime expiration) {
  SimOrder *o = find_open(ticket);
  if (!o) return fail(ERR_INVALID_TICKET);
  SimSymbol *s = find_symbol(o->symbol);
  double eps = s->point / 2;
  bool same = std::fabs(o->sl - sl) < eps && std::fabs(o->tp - tp) < eps &&
              (!is_pending(o->type) || std::fabs(o->open_price - price) < eps);
  if (same) return fail(ERR_NO_RESULT);
  if (frozen(*o)) return fail(ERR_TRADE_MODIFY_DENIED);
  double ref = is_pending(o->type) ? price : (o->type == OP_BUY ? s->bid : s->ask);
  bool buy = is_buy(o->type);
  double gap = s->stop_level * s->point - 1e-9;  // STOPLEVEL: the broker's minimum distance
  if (sl > 0 && (buy ? sl > ref - gap : sl < ref + gap)) return fail(ERR_INVALID_STOPS);
  if (tp > 0 && (buy ? tp < ref + gap : tp > ref - gap)) return fail(ERR_INVALID_STOPS);
  if (is_pending(o->type)) o->open_price = price;
  o->sl = sl;
  o->tp = tp;
  o->expiration = expiration;
  return true;
}

static bool do_delete(int ticket) {
  SimOrder *o = find_open(ticket);
  if (!o || !is_pending(o->type)) return fail(ERR_INVALID_TICKET);
  if (frozen(*o)) return fail(ERR_TRADE_MODIFY_DENIED);
  SimOrder gone = *o;
  g_open.erase(g_open.begin() + (o - g_open.data()));
  move_to_history(gone, gone.open_price, TimeCurrent());
  return true;
}

// ---------------------------------------------------------------- MQL4 trade API
int OrderSend(const string &symbol, int cmd, double volume, double price, int slippage, double sl,
              double tp, const string &comment, int magic, datetime expiration, color) {
  bool after = false;
  int code = injected("OrderSend", after);
  if (code && !after) return fail(code), -1;
  int ticket = do_send(symbol.utf8(), cmd, volume, price, slippage, sl, tp, comment.utf8(), magic,
                       expiration, true);
  if (ticket > 0) {
    save_book();
    crash_point("OrderSend");
  }
  if (code && after && ticket > 0) return fail(code), -1;
  return ticket;
}
bool OrderClose(int ticket, double lots, double price, int slippage, color) {
  bool after = false;
  int code = injected("OrderClose", after);
  if (code && !after) return fail(code);
  bool ok = do_close(ticket, lots, price, slippage, true);
  if (ok) {
    save_book();
    crash_point("OrderClose");
  }
  if (code && after && ok) return fail(code);
  return ok;
}
bool OrderModify(int ticket, double price, double sl, double tp, datetime expiration, color) {
  bool after = false;
  int code = injected("OrderModify", after);
  if (code && !after) return fail(code);
  bool ok = do_modify(ticket, price, sl, tp, expiration);
  if (ok) {
    save_book();
    crash_point("OrderModify");
  }
  if (code && after && ok) return fail(code);
  return ok;
}
bool OrderDelete(int ticket, color) {
  bool after = false;
  int code = injected("OrderDelete", after);
  if (code && !after) return fail(code);
  bool ok = do_delete(ticket);
  if (ok) {
    save_book();
    crash_point("OrderDelete");
  }
  if (code && after && ok) return fail(code);
  return ok;
}
bool OrderSelect(int index, int select, int pool) {
  g_has_sel = false;
  if (select == SELECT_BY_TICKET) {
    for (auto &o : g_open)
      if (o.ticket == index) g_sel = o, g_has_sel = true;
    for (auto &o : g_history)
      if (o.ticket == index) g_sel = o, g_has_sel = true;
  } else {
    auto &v = pool == MODE_HISTORY ? g_history : g_open;
    if (index >= 0 && index < (int)v.size()) g_sel = v[(size_t)index], g_has_sel = true;
  }
  if (!g_has_sel) mql_set_last_error(ERR_INVALID_TICKET);
  return g_has_sel;
}
int OrdersTotal() { return (int)g_open.size(); }
int OrdersHistoryTotal() { return (int)g_history.size(); }
int OrderTicket() { return g_sel.ticket; }
string OrderSymbol() { return string(g_sel.symbol.c_str()); }
int OrderType() { return g_sel.type; }
double OrderLots() { return g_sel.lots; }
double OrderOpenPrice() { return g_sel.open_price; }
double OrderClosePrice() {
  if (g_sel.close_time) return g_sel.close_price;
  SimSymbol *s = find_symbol(g_sel.symbol);
  return s ? (is_buy(g_sel.type) ? s->bid : s->ask) : 0;
}
double OrderStopLoss() { return g_sel.sl; }
double OrderTakeProfit() { return g_sel.tp; }
int OrderMagicNumber() { return g_sel.magic; }
string OrderComment() { return string(g_sel.comment.c_str()); }
datetime OrderOpenTime() { return g_sel.open_time; }
datetime OrderCloseTime() { return g_sel.close_time; }
datetime OrderExpiration() { return g_sel.expiration; }
double OrderProfit() { return profit_of(g_sel); }

double MarketInfo(const string &symbol, int type) {
  SimSymbol *s = find_symbol(symbol.utf8());
  if (!s || !s->selected) {
    mql_set_last_error(4106);
    return 0;
  }
  switch (type) {
    case MODE_BID: return s->bid;
    case MODE_ASK: return s->ask;
    case MODE_POINT: return s->point;
    case MODE_DIGITS: return s->digits;
    case MODE_SPREAD: return std::round((s->ask - s->bid) / s->point);
    case MODE_STOPLEVEL: return s->stop_level;
    case MODE_LOTSIZE: return s->contract;
    case MODE_TICKVALUE: return 1.0;
    case MODE_TICKSIZE: return s->point;
    case MODE_TRADEALLOWED: return 1;
    case MODE_MINLOT: return s->min_lot;
    case MODE_LOTSTEP: return s->lot_step;
    case MODE_MAXLOT: return s->max_lot;
    case MODE_FREEZELEVEL: return s->freeze_level;
  }
  return 0;
}
bool RefreshRates() { return true; }
bool IsTradeAllowed() { return env("MQL_TRADE_ALLOWED", "1") == "1"; }
bool IsTradeContextBusy() { return std::chrono::steady_clock::now() < g_busy_until; }
bool IsConnected() { return env("MQL_CONNECTED", "1") == "1"; }
bool IsStopped() { return g_stop.load(); }
bool IsTesting() { return env("MQL_TESTING", "0") == "1"; }
bool IsDllsAllowed() { return env("MQL_DLLS_ALLOWED", "0") == "1"; }
void ExpertRemove() { g_expert_remove = true; }
static std::vector<SimSymbol *> market_watch(bool selected) {
  std::vector<SimSymbol *> out;
  for (auto &s : g_symbols)
    if (s.selected || !selected) out.push_back(&s);
  return out;
}
int SymbolsTotal(bool selected) { return (int)market_watch(selected).size(); }
string Symbol() { return string(env("MQL_SIM_CHART_SYMBOL", "EURUSD").c_str()); }
bool SymbolSelect(const string &name, bool select) {
  SimSymbol *s = find_symbol(name.utf8());
  if (s) s->selected = select;
  return s != nullptr;
}
string SymbolName(int pos, bool selected) {
  std::vector<SimSymbol *> list = market_watch(selected);
  return pos >= 0 && pos < (int)list.size() ? string(list[(size_t)pos]->name.c_str()) : string();
}int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER what) {
  switch (what) {
    case TERMINAL_BUILD: return 1440;
    case TERMINAL_CONNECTED: return 1;
    case TERMINAL_DLLS_ALLOWED: return IsDllsAllowed() ? 1 : 0;
    case TERMINAL_TRADE_ALLOWED: return IsTradeAllowed() ? 1 : 0;
    case TERMINAL_MEMORY_USED: return 64;
    default: return 0;
  }
}
static int g_account_override = -1;  // set by the `login` control command
int AccountNumber() {
  if (g_account_override >= 0) return g_account_override;
  return std::atoi(env("MQL_ACCOUNT_NUMBER", "1001").c_str());
}
double AccountBalance() { return g_balance; }
double AccountEquity() {
  double e = g_balance;
  for (auto &o : g_open) e += profit_of(o);
  return e;
}
double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE what) {
  if (what == ACCOUNT_BALANCE) return AccountBalance();
  if (what == ACCOUNT_EQUITY) return AccountEquity();
  return 0;
}
string AccountCurrency() { return "USD"; }
int AccountLeverage() { return 100; }
string AccountCompany() { return "Shim Broker Ltd"; }
bool EventSetMillisecondTimer(int ms) {
  if (ms <= 0) return false;
  g_timer_ms = ms;
  return true;
}
void EventKillTimer() { g_timer_ms = 0; }

// ---------------------------------------------------------------- files
struct OpenFile {
  FILE *fp;
  int flags;
};
static std::map<int, OpenFile> g_files;
static int g_next_handle = 1;

static std::string file_path(const string &name) {
  std::string rel = name.utf8();
  for (auto &c : rel)
    if (c == '\\') c = '/';
  return env("MQL_FILES_DIR", "MQL4/Files") + "/" + rel;
}
static void mkdirs(const std::string &dir) {
  std::string cur;
  std::stringstream ss(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    ::mkdir(cur.c_str(), 0755);
  }
}
// a path component Windows refuses: forbidden characters, control characters,
// reserved device names (also with an extension: "NUL.txt"), a trailing dot/space
static bool windows_forbids(const std::string &component) {
  if (component.empty()) return true;
  for (unsigned char c : component)
    if (c < 32 || std::strchr("<>:\"/|?*", c) != nullptr) return true;
  if (component.back() == '.' || component.back() == ' ') return true;
  std::string stem = component.substr(0, component.find('.'));
  for (auto &c : stem) c = (char)std::toupper((unsigned char)c);
  static const char *reserved[] = {"CON",  "PRN",  "AUX",  "NUL",  "COM1", "COM2", "COM3", "COM4",
                                   "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3",
                                   "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"};
  for (const char *r : reserved)
    if (stem == r) return true;
  return false;
}
static bool windows_path_ok(const string &name) {
  std::stringstream ss(name.utf8());
  std::string part;
  while (std::getline(ss, part, '\\'))
    if (windows_forbids(part)) return false;
  return true;
}
int FileOpen(const string &name, int flags, short, uint) {
  if (!windows_path_ok(name)) {
    mql_set_last_error(ERR_CANNOT_OPEN_FILE);
    return INVALID_HANDLE;
  }
  std::string path = file_path(name);
  const char *mode = (flags & FILE_WRITE) ? ((flags & FILE_READ) ? "r+b" : "wb") : "rb";
  if ((flags & FILE_WRITE)) mkdirs(path.substr(0, path.rfind('/')));
  FILE *fp = std::fopen(path.c_str(), mode);
  if (!fp && (flags & FILE_WRITE) && (flags & FILE_READ)) fp = std::fopen(path.c_str(), "w+b");
  if (!fp) {
    mql_set_last_error(ERR_CANNOT_OPEN_FILE);
    return INVALID_HANDLE;
  }
  int h = g_next_handle++;
  g_files[h] = {fp, flags};
  return h;
}
void FileClose(int handle) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return;
  std::fclose(it->second.fp);
  g_files.erase(it);
}
uint FileWriteString(int handle, const string &text, int) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return 0;
  std::string bytes = text.utf8();
  return (uint)std::fwrite(bytes.data(), 1, bytes.size(), it->second.fp);
}
string FileReadString(int handle, int) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return string();
  std::string line;
  int c;
  while ((c = std::fgetc(it->second.fp)) != EOF && c != '\n') line.push_back((char)c);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return string(line.c_str());
}
bool FileIsEnding(int handle) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return true;
  int c = std::fgetc(it->second.fp);
  if (c == EOF) return true;
  std::ungetc(c, it->second.fp);
  return false;
}
ulong FileSize(int handle) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return 0;
  long pos = std::ftell(it->second.fp);
  std::fseek(it->second.fp, 0, SEEK_END);
  long size = std::ftell(it->second.fp);
  std::fseek(it->second.fp, pos, SEEK_SET);
  return (ulong)size;
}
uint FileReadArray(int handle, MqlArray<uchar> &array, int start, int count) {
  auto it = g_files.find(handle);
  if (it == g_files.end() || count <= 0) return 0;
  if ((int)array.items().size() < start + count) array.items().resize((size_t)(start + count));
  size_t n = std::fread(array.items().data() + start, 1, (size_t)count, it->second.fp);
  array.items().resize((size_t)start + n);
  return (uint)n;
}
uint FileWriteArray(int handle, const MqlArray<uchar> &array, int start, int count) {
  auto it = g_files.find(handle);
  if (it == g_files.end()) return 0;
  int n = (int)array.items().size() - start;
  if (count >= 0 && count < n) n = count;
  if (n <= 0) return 0;
  return (uint)std::fwrite(array.items().data() + start, 1, (size_t)n, it->second.fp);
}
void FileFlush(int handle) {
  auto it = g_files.find(handle);
  if (it != g_files.end()) std::fflush(it->second.fp);
}
bool FileIsExist(const string &name, int) {
  struct stat st;
  return ::stat(file_path(name).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool FileDelete(const string &name, int) { return std::remove(file_path(name).c_str()) == 0; }
bool FileMove(const string &src, int, const string &dst, int mode_flags) {
  if (!windows_path_ok(src) || !windows_path_ok(dst)) return fail(ERR_CANNOT_OPEN_FILE);
  if (!(mode_flags & FILE_REWRITE) && FileIsExist(dst, 0)) return fail(5004);
  if (std::rename(file_path(src).c_str(), file_path(dst).c_str()) != 0) return false;
  std::string moved = dst.utf8();
  crash_point("FileMove:" + moved.substr(moved.rfind('\\') + 1));
  return true;
}
bool FolderCreate(const string &name, int) {
  if (!windows_path_ok(name)) return fail(ERR_CANNOT_OPEN_FILE);
  mkdirs(file_path(name));
  return true;
}

// ---------------------------------------------------------------- WebRequest
static bool url_allowed(const std::string &url) {
  std::string allow = env("MQL_WEBREQUEST_ALLOW", "");
  std::stringstream ss(allow);
  std::string prefix;
  while (std::getline(ss, prefix, ','))
    if (!prefix.empty() && url.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

// "host:port" -> "real_host:real_port" from $MQL_ADDRESS_MAP, "" when unmapped
static std::string mapped_address(const std::string &hostport) {
  std::stringstream ss(env("MQL_ADDRESS_MAP", ""));
  std::string entry;
  while (std::getline(ss, entry, ',')) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos && entry.substr(0, eq) == hostport) return entry.substr(eq + 1);
  }
  return "";
}

static int connect_with_timeout(const std::string &host, const std::string &port, int timeout_ms) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
      } else {
        rc = -1;
      }
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fl);
      break;
    }
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

static std::string lower(std::string s) {
  for (auto &c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

int WebRequest(const string &method, const string &url_s, const string &headers, int timeout,
               const MqlArray<char> &data, MqlArray<char> &result, string &result_headers) {
  std::string url = url_s.utf8();
  std::string verb = method.utf8();
  if (verb != "GET" && verb != "POST" && verb != "HEAD") return fail(ERR_WEBREQUEST_INVALID_ADDRESS), -1;
  if (!url_allowed(url)) return fail(ERR_FUNCTION_NOT_CONFIRMED), -1;
  bool https = url.compare(0, 8, "https://") == 0;
  if (!https && url.compare(0, 7, "http://") != 0) return fail(ERR_WEBREQUEST_INVALID_ADDRESS), -1;
  std::string rest = url.substr(https ? 8 : 7);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? (https ? "443" : "80") : hostport.substr(colon + 1);
  if (port != "80" && port != "443") return fail(ERR_WEBREQUEST_INVALID_ADDRESS), -1;
  std::string mapped = mapped_address(host + ":" + port);
  if (!mapped.empty()) {
    size_t c = mapped.rfind(':');
    host = mapped.substr(0, c);
    port = mapped.substr(c + 1);
  } else if (https) {
    return fail(ERR_WEBREQUEST_CONNECT_FAILED), -1;  // no TLS in the shim
  }
  int fd = connect_with_timeout(host, port, timeout);
  if (fd < 0) return fail(ERR_WEBREQUEST_CONNECT_FAILED), -1;
  timeval tv{timeout / 1000, (timeout % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string extra = headers.utf8();
  if (!extra.empty() && extra.size() >= 2 && extra.substr(extra.size() - 2) != "\r\n") extra += "\r\n";
  std::string req = method.utf8() + " " + path + " HTTP/1.1\r\nHost: " + hostport + "\r\n" + extra +
                    "User-Agent: MetaTrader 4 Terminal/4.1440 (mql4-shim)\r\n"
                    "Content-Length: " + std::to_string(data.items().size()) +
                    "\r\nConnection: close\r\n\r\n";
  req.append(data.items().begin(), data.items().end());
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return fail(ERR_WEBREQUEST_REQUEST_FAILED), -1;
    }
    sent += (size_t)n;
  }
  std::string resp;
  char buf[16384];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  size_t head_end = std::string::npos;
  long content_length = -1;
  bool chunked = false;
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      resp.append(buf, (size_t)n);
    } else if (n == 0) {
      break;
    } else {
      ::close(fd);
      bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
      return fail(timed_out ? ERR_WEBREQUEST_TIMEOUT : ERR_WEBREQUEST_REQUEST_FAILED), -1;
    }
    if (head_end == std::string::npos && (head_end = resp.find("\r\n\r\n")) != std::string::npos) {
      std::string head = lower(resp.substr(0, head_end));
      size_t p = head.find("\r\ncontent-length:");
      if (p != std::string::npos) content_length = std::atol(head.c_str() + p + 17);
      chunked = head.find("transfer-encoding: chunked") != std::string::npos;
    }
    if (head_end != std::string::npos && content_length >= 0 &&
        resp.size() >= head_end + 4 + (size_t)content_length)
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      return fail(ERR_WEBREQUEST_TIMEOUT), -1;
    }
  }
  ::close(fd);
  if (head_end == std::string::npos) return fail(ERR_WEBREQUEST_REQUEST_FAILED), -1;
  std::string head = resp.substr(0, head_end);
  std::string body = resp.substr(head_end + 4);
  if (content_length >= 0 && (long)body.size() > content_length) body.resize((size_t)content_length);
  if (chunked) {
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      long len = std::strtol(body.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (len <= 0) break;
      out += body.substr(eol + 2, (size_t)len);
      pos = eol + 2 + (size_t)len + 2;
    }
    body = out;
  }
  int status = 0;
  size_t sp = head.find(' ');
  if (sp != std::string::npos) status = std::atoi(head.c_str() + sp + 1);
  size_t first_eol = head.find("\r\n");
  result_headers = string((first_eol == std::string::npos ? std::string() : head.substr(first_eol + 2) + "\r\n").c_str());
  result.items().assign(body.begin(), body.end());
  // the server answered (a 200 confirmed the body) but the EA has not seen it yet
  for (const char *type : {"OrderIntent", "ExecutionReport"})
    if (status == 200 && std::string(data.items().begin(), data.items().end()).find(
                             std::string("\"type\":\"") + type + "\"") != std::string::npos)
      crash_point(std::string("WebRequest:") + type);
  return status;
}

// advapi32.dll!SystemFunction036 (RtlGenRandom), imported by Platform.mqh in
// the DLL build only (COPYGATE_WITH_DLL); the default build links without it.
#ifdef COPYGATE_WITH_DLL
namespace mql_import_advapi32 {
int SystemFunction036(MqlArray<uchar> &buffer, int length) {
  FILE *fp = std::fopen("/dev/urandom", "rb");
  if (!fp) return 0;
  if ((int)buffer.items().size() < length) buffer.items().resize((size_t)length);
  size_t n = std::fread(buffer.items().data(), 1, (size_t)length, fp);
  std::fclose(fp);
  return n == (size_t)length ? 1 : 0;
}
}  // namespace mql_import_advapi32
#endif

// ---------------------------------------------------------------- control + event loop
static std::mutex g_lines_mutex;
static std::vector<std::string> g_lines;
static std::atomic<bool> g_stdin_closed{false};

static void reply(const std::string &s) {
  std::cout << "@@ " << s << std::endl;
}
static std::string jstr(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
static std::string order_json(const SimOrder &o) {
  std::ostringstream ss;
  ss.precision(10);
  ss << "{\"ticket\":" << o.ticket << ",\"symbol\":" << jstr(o.symbol) << ",\"type\":" << o.type
     << ",\"lots\":" << o.lots << ",\"open_price\":" << o.open_price << ",\"sl\":" << o.sl
     << ",\"tp\":" << o.tp << ",\"magic\":" << o.magic << ",\"comment\":" << jstr(o.comment)
     << ",\"open_time\":" << o.open_time << ",\"close_price\":" << o.close_price
     << ",\"close_time\":" << o.close_time << "}";
  return ss.str();
}

// Control commands (one per line on stdin):
//   price SYM BID ASK | open SYM TYPE LOTS [PRICE SL TP MAGIC COMMENT] | close T [LOTS]
//   modify T SL TP [PRICE] | delete T | comment T TEXT | fail FN CODE COUNT
//   fail_after FN CODE COUNT | busy MS | login ACCOUNT | book | ping | quit
//   webrequest METHOD URL | fileopen NAME  (the terminal's own limits, as the EA meets them)
static void handle_command(const std::string &line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "ping") return reply("{\"ok\":true}");
  if (cmd == "webrequest") {
    std::string method, url;
    in >> method >> url;
    MqlArray<char> data, result;
    string headers;
    ResetLastError();
    int status = WebRequest(string(method.c_str()), string(url.c_str()), string(), 2000, data, result, headers);
    return reply("{\"status\":" + std::to_string(status) + ",\"last_error\":" + std::to_string(GetLastError()) + "}");
  }
  if (cmd == "fileopen") {
    std::string name;
    in >> name;
    ResetLastError();
    int h = FileOpen(string(name.c_str()), FILE_WRITE | FILE_BIN);
    if (h != INVALID_HANDLE) FileClose(h);
    return reply("{\"handle\":" + std::to_string(h) + ",\"last_error\":" + std::to_string(GetLastError()) + "}");
  }
  if (cmd == "quit") {
    g_stop = true;
    return reply("{\"ok\":true}");
  }
  if (cmd == "price") {
    std::string sym;
    double bid = 0, ask = 0;
    in >> sym >> bid >> ask;
    SimSymbol *s = find_symbol(sym);
    if (!s) return reply("{\"error\":\"unknown symbol\"}");
    s->bid = bid;
    s->ask = ask;
    g_quotes_changed = true;
    sim_step();
    return reply("{\"ok\":true}");
  }
  if (cmd == "open") {
    std::string sym, comment;
    int type = 0, magic = 0;
    double lots = 0, price = 0, sl = 0, tp = 0;
    in >> sym >> type >> lots >> price >> sl >> tp >> magic;
    std::getline(in, comment);
    if (!comment.empty() && comment[0] == ' ') comment.erase(0, 1);
    int t = do_send(sym, type, lots, price, 0, sl, tp, comment, magic, 0, false);
    return reply(t > 0 ? "{\"ticket\":" + std::to_string(t) + "}"
                       : "{\"error\":" + std::to_string(GetLastError()) + "}");
  }
  if (cmd == "close") {
    int t = 0;
    double lots = 0;
    in >> t >> lots;
    SimOrder *o = find_open(t);
    if (!o) return reply("{\"error\":4108}");
    bool ok = do_close(t, lots > 0 ? lots : o->lots, 0, 0, false);
    int last = ok ? 0 : GetLastError();
    int rest = 0;
    for (auto &x : g_open)
      if (x.comment == "from #" + std::to_string(t)) rest = x.ticket;
    return reply(ok ? "{\"ok\":true,\"new_ticket\":" + std::to_string(rest) + "}"
                    : "{\"error\":" + std::to_string(last) + "}");
  }
  if (cmd == "modify") {
    int t = 0;
    double sl = 0, tp = 0, price = 0;
    in >> t >> sl >> tp >> price;
    SimOrder *o = find_open(t);
    if (!o) return reply("{\"error\":4108}");
    bool ok = do_modify(t, price > 0 ? price : o->open_price, sl, tp, o->expiration);
    return reply(ok ? "{\"ok\":true}" : "{\"error\":" + std::to_string(GetLastError()) + "}");
  }
  if (cmd == "delete") {
    int t = 0;
    in >> t;
    bool ok = do_delete(t);
    return reply(ok ? "{\"ok\":true}" : "{\"error\":" + std::to_string(GetLastError()) + "}");
  }
  if (cmd == "comment") {
    int t = 0;
    std::string text;
    in >> t;
    std::getline(in, text);
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);
    SimOrder *o = find_open(t);
    if (!o) return reply("{\"error\":4108}");
    o->comment = text;
    return reply("{\"ok\":true}");
  }
  if (cmd == "fail" || cmd == "fail_after") {
    std::string fn;
    int code = 0, count = 1;
    in >> fn >> code >> count;
    g_inject[fn] = {code, count, cmd == "fail_after"};
    return reply("{\"ok\":true}");
  }
  if (cmd == "login") {
    in >> g_account_override;
    return reply("{\"ok\":true}");
  }
  if (cmd == "busy") {
    int ms = 0;
    in >> ms;
    g_busy_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    return reply("{\"ok\":true}");
  }
  if (cmd == "book") {
    std::string s = "{\"balance\":" + std::to_string(g_balance) + ",\"open\":[";
    for (size_t i = 0; i < g_open.size(); i++) s += (i ? "," : "") + order_json(g_open[i]);
    s += "],\"history\":[";
    for (size_t i = 0; i < g_history.size(); i++) s += (i ? "," : "") + order_json(g_history[i]);
    return reply(s + "]}");
  }
  reply("{\"error\":\"unknown command\"}");
}

static void stdin_reader() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::lock_guard<std::mutex> lock(g_lines_mutex);
    g_lines.push_back(line);
  }
  g_stdin_closed = true;
}

static void on_signal(int) { g_stop = true; }

int main() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  init_market();
  load_book();
  int rc = OnInit();
  if (rc != INIT_SUCCEEDED) {
    reply("{\"event\":\"init_failed\",\"code\":" + std::to_string(rc) + "}");
    OnDeinit(REASON_PROGRAM);
    return 3;
  }
  reply("{\"event\":\"ready\"}");
  std::thread(stdin_reader).detach();
  auto next_timer = std::chrono::steady_clock::now();
  while (!g_stop && !g_expert_remove) {
    std::vector<std::string> lines;
    {
      std::lock_guard<std::mutex> lock(g_lines_mutex);
      lines.swap(g_lines);
    }
    for (auto &l : lines) handle_command(l);
    if (g_stdin_closed && lines.empty()) break;
    sim_step();
    if (g_quotes_changed) {
      g_quotes_changed = false;
      OnTick();
    }
    auto now = std::chrono::steady_clock::now();
    if (g_timer_ms > 0 && now >= next_timer) {
      OnTimer();
      next_timer = std::chrono::steady_clock::now() + std::chrono::milliseconds(g_timer_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  OnDeinit(g_expert_remove ? REASON_PROGRAM : REASON_REMOVE);
  save_book();
  reply("{\"event\":\"stopped\"}");
  std::cout.flush();
  std::_Exit(0);  // the stdin reader thread may still be blocked in getline
}
