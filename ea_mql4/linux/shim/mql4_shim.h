// mql4_shim.h -- the MQL4 built-ins the CopyGateway EA uses, for g++ on Linux.
//
// This header lets the EA's own .mq4/.mqh sources (after the token pre-pass in
// ea_mql4/tools/mql2cpp.py) compile as C++17. It is *not* MetaTrader: it models
// the documented behaviour of each built-in closely enough to test the EA's
// logic, and is deliberately strict where MQL4 is lax (no implicit number ->
// string conversion, bounds-checked arrays that abort like MQL4's "array out
// of range" critical error).
//
// Core part (strings, arrays, conversions, math, time, crypto) is implemented
// in shim_core.cpp; the trading terminal part (orders, market, files,
// WebRequest, timers) in terminal.cpp.
#pragma once

// The EA's sources are compiled with -Wconversion (MetaEditor's strict mode);
// the shim is not EA code and is exempt (popped at the end of this header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <type_traits>
#include <vector>

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef long datetime;
typedef int color;

// ---------------------------------------------------------------- string
// MQL4 strings are UTF-16; so is this one (so StringLen/StringGetCharacter
// count UTF-16 code units exactly like the terminal does).
class string {
 public:
  string() {}
  string(const char *utf8);  // NOLINT: implicit like an MQL4 literal
  explicit string(const std::u16string &units) : m_units(units) {}
  string &operator+=(const string &other) {
    m_units += other.m_units;
    return *this;
  }
  bool operator==(const string &o) const { return m_units == o.m_units; }
  bool operator!=(const string &o) const { return m_units != o.m_units; }
  bool operator<(const string &o) const { return m_units < o.m_units; }
  bool operator>(const string &o) const { return m_units > o.m_units; }
  bool operator<=(const string &o) const { return m_units <= o.m_units; }
  bool operator>=(const string &o) const { return m_units >= o.m_units; }
  std::u16string &units() { return m_units; }
  const std::u16string &units() const { return m_units; }
  std::string utf8() const;

 private:
  std::u16string m_units;
};
string operator+(const string &a, const string &b);
string operator+(const char *a, const string &b);
string operator+(const string &a, const char *b);
bool operator==(const string &a, const char *b);
bool operator!=(const string &a, const char *b);

// ---------------------------------------------------------------- arrays
void mql_array_out_of_range(int index, int size);

// A dynamic MQL4 array `T name[]` (the pre-pass rewrites it to MqlArray<T>).
// bool arrays use a deque (std::vector<bool> has no real references).
template <typename T>
class MqlArray {
 public:
  using Store = std::conditional_t<std::is_same_v<T, bool>, std::deque<T>, std::vector<T>>;
  T &operator[](int i) {
    if (i < 0 || i >= (int)m_items.size()) mql_array_out_of_range(i, (int)m_items.size());
    return m_items[(size_t)i];
  }
  const T &operator[](int i) const {
    if (i < 0 || i >= (int)m_items.size()) mql_array_out_of_range(i, (int)m_items.size());
    return m_items[(size_t)i];
  }
  Store &items() { return m_items; }
  const Store &items() const { return m_items; }

 private:
  Store m_items;
};

#define WHOLE_ARRAY (-1)
#define EMPTY_VALUE 0x7FFFFFFF
#define EMPTY (-1)
#define clrNONE ((color)0xFFFFFFFF)
#define clrRed ((color)0x0000FF)
#define clrBlue ((color)0xFF0000)
#define clrGreen ((color)0x008000)

template <typename T>
int ArraySize(const MqlArray<T> &a) {
  return (int)a.items().size();
}
template <typename T>
int ArrayResize(MqlArray<T> &a, int new_size, int reserve = 0) {
  if (new_size < 0) return -1;
  if constexpr (!std::is_same_v<T, bool>) {
    if (reserve > 0) a.items().reserve((size_t)(new_size + reserve));
  }
  a.items().resize((size_t)new_size);
  return new_size;
}
template <typename T>
void ArrayFree(MqlArray<T> &a) {
  a.items().clear();
}
template <typename T>
int ArrayCopy(MqlArray<T> &dst, const MqlArray<T> &src, int dst_start = 0, int src_start = 0,
              int count = WHOLE_ARRAY) {
  int n = (int)src.items().size() - src_start;
  if (count >= 0 && count < n) n = count;
  if (n <= 0) return 0;
  if ((int)dst.items().size() < dst_start + n) dst.items().resize((size_t)(dst_start + n));
  for (int i = 0; i < n; i++) dst.items()[(size_t)(dst_start + i)] = src.items()[(size_t)(src_start + i)];
  return n;
}
template <typename T, typename V>
int ArrayInitialize(MqlArray<T> &a, V value) {
  for (auto &x : a.items()) x = (T)value;
  return (int)a.items().size();
}

// ---------------------------------------------------------------- errors
#define ERR_NO_ERROR 0
#define ERR_NO_RESULT 1
#define ERR_COMMON_ERROR 2
#define ERR_INVALID_TRADE_PARAMETERS 3
#define ERR_SERVER_BUSY 4
#define ERR_NO_CONNECTION 6
#define ERR_TOO_FREQUENT_REQUESTS 8
#define ERR_ACCOUNT_DISABLED 64
#define ERR_TRADE_TIMEOUT 128
#define ERR_INVALID_PRICE 129
#define ERR_INVALID_STOPS 130
#define ERR_INVALID_TRADE_VOLUME 131
#define ERR_MARKET_CLOSED 132
#define ERR_TRADE_DISABLED 133
#define ERR_NOT_ENOUGH_MONEY 134
#define ERR_PRICE_CHANGED 135
#define ERR_OFF_QUOTES 136
#define ERR_BROKER_BUSY 137
#define ERR_REQUOTE 138
#define ERR_ORDER_LOCKED 139
#define ERR_TOO_MANY_REQUESTS 141
#define ERR_TRADE_MODIFY_DENIED 145
#define ERR_TRADE_CONTEXT_BUSY 146
#define ERR_TRADE_EXPIRATION_DENIED 147
#define ERR_TRADE_TOO_MANY_ORDERS 148
#define ERR_INVALID_TICKET 4108
#define ERR_TRADE_NOT_ALLOWED 4109
#define ERR_FUNCTION_NOT_CONFIRMED 4060
#define ERR_CANNOT_OPEN_FILE 4103
#define ERR_WEBREQUEST_INVALID_ADDRESS 5200
#define ERR_WEBREQUEST_CONNECT_FAILED 5201
#define ERR_WEBREQUEST_TIMEOUT 5202
#define ERR_WEBREQUEST_REQUEST_FAILED 5203
#define ERR_USER_ERROR_FIRST 65536

int GetLastError();
void ResetLastError();
void SetUserError(ushort user_error);
void mql_set_last_error(int code);  // shim-internal

// ---------------------------------------------------------------- strings
#define CP_ACP 0
#define CP_UTF8 65001

int StringLen(const string &s);
string StringSubstr(const string &s, int start, int length = -1);
int StringFind(const string &s, const string &match, int start = 0);
ushort StringGetCharacter(const string &s, int pos);
bool StringSetCharacter(string &s, int pos, ushort ch);
int StringReplace(string &s, const string &find, const string &replacement);
int StringSplit(const string &s, ushort separator, MqlArray<string> &result);
bool StringToLower(string &s);
bool StringToUpper(string &s);
bool StringAdd(string &s, const string &add);
string ShortToString(ushort ch);
string CharToString(uchar ch);
int StringToCharArray(const string &s, MqlArray<uchar> &out, int start = 0, int count = -1,
                      uint codepage = CP_ACP);
int StringToCharArray(const string &s, MqlArray<char> &out, int start = 0, int count = -1,
                      uint codepage = CP_ACP);
string CharArrayToString(const MqlArray<uchar> &a, int start = 0, int count = -1,
                         uint codepage = CP_ACP);
string CharArrayToString(const MqlArray<char> &a, int start = 0, int count = -1,
                         uint codepage = CP_ACP);
string IntegerToString(long number, int str_len = 0, ushort fill_symbol = ' ');
string DoubleToString(double value, int digits = 8);
long StringToInteger(const string &s);
double StringToDouble(const string &s);

// ---------------------------------------------------------------- math
double MathAbs(double v);
double MathMax(double a, double b);
double MathMin(double a, double b);
double MathRound(double v);
double MathFloor(double v);
double MathCeil(double v);
double MathPow(double b, double e);
double MathSqrt(double v);
double MathMod(double a, double b);
double MathLog10(double v);
int MathRand();
void MathSrand(int seed);
double NormalizeDouble(double value, int digits);

// ---------------------------------------------------------------- time
uint GetTickCount();
ulong GetMicrosecondCount();
datetime TimeLocal();
datetime TimeGMT();
datetime TimeCurrent();
void Sleep(int ms);

// ---------------------------------------------------------------- crypto
enum ENUM_CRYPT_METHOD {
  CRYPT_BASE64,
  CRYPT_AES128,
  CRYPT_AES256,
  CRYPT_DES,
  CRYPT_HASH_SHA1,
  CRYPT_HASH_SHA256,
  CRYPT_HASH_MD5,
  CRYPT_ARCH_ZIP
};
int CryptEncode(ENUM_CRYPT_METHOD method, const MqlArray<uchar> &data, const MqlArray<uchar> &key,
                MqlArray<uchar> &result);

// ---------------------------------------------------------------- printing
std::string mql_print_arg(const string &v);
std::string mql_print_arg(const char *v);
std::string mql_print_arg(bool v);
std::string mql_print_arg(char v);
std::string mql_print_arg(uchar v);
std::string mql_print_arg(short v);
std::string mql_print_arg(ushort v);
std::string mql_print_arg(int v);
std::string mql_print_arg(uint v);
std::string mql_print_arg(long v);
std::string mql_print_arg(ulong v);
std::string mql_print_arg(double v);
void mql_emit(const char *kind, const std::string &line);

template <typename... Args>
void Print(const Args &...args) {
  std::string line;
  ((line += mql_print_arg(args)), ...);
  mql_emit("PRINT", line);
}
template <typename... Args>
void Alert(const Args &...args) {
  std::string line;
  ((line += mql_print_arg(args)), ...);
  mql_emit("ALERT", line);
}
template <typename... Args>
void Comment(const Args &...args) {
  std::string line;
  ((line += mql_print_arg(args)), ...);
  mql_emit("COMMENT", line);
}

// ---------------------------------------------------------------- inputs
// `input T Name = v;` becomes `const T Name = mql_input<T>("Name", v);`; the
// value can be overridden with the environment variable MQL_INPUT_<Name>.
const char *mql_input_raw(const char *name);
template <typename T>
T mql_input(const char *name, T fallback) {
  const char *raw = mql_input_raw(name);
  if (raw == nullptr) return fallback;
  if constexpr (std::is_same_v<T, string>) {
    return string(raw);
  } else if constexpr (std::is_same_v<T, bool>) {
    return raw[0] == '1' || raw[0] == 't' || raw[0] == 'T';
  } else if constexpr (std::is_floating_point_v<T>) {
    return (T)std::strtod(raw, nullptr);
  } else {
    return (T)std::strtoll(raw, nullptr, 10);
  }
}
inline string mql_input(const char *name, const char *fallback) {
  return mql_input<string>(name, string(fallback));
}

// ---------------------------------------------------------------- terminal
// Declared here, implemented in terminal.cpp (not linked into core tests).
#define OP_BUY 0
#define OP_SELL 1
#define OP_BUYLIMIT 2
#define OP_SELLLIMIT 3
#define OP_BUYSTOP 4
#define OP_SELLSTOP 5
#define SELECT_BY_POS 0
#define SELECT_BY_TICKET 1
#define MODE_TRADES 0
#define MODE_HISTORY 1
#define MODE_LOW 1
#define MODE_HIGH 2
#define MODE_TIME 5
#define MODE_BID 9
#define MODE_ASK 10
#define MODE_POINT 11
#define MODE_DIGITS 12
#define MODE_SPREAD 13
#define MODE_STOPLEVEL 14
#define MODE_LOTSIZE 15
#define MODE_TICKVALUE 16
#define MODE_TICKSIZE 17
#define MODE_TRADEALLOWED 22
#define MODE_MINLOT 23
#define MODE_LOTSTEP 24
#define MODE_MAXLOT 25
#define MODE_FREEZELEVEL 33

#define REASON_PROGRAM 0
#define REASON_REMOVE 1
#define REASON_RECOMPILE 2
#define REASON_CHARTCHANGE 3
#define REASON_CHARTCLOSE 4
#define REASON_PARAMETERS 5
#define REASON_ACCOUNT 6
#define INIT_SUCCEEDED 0
#define INIT_FAILED 1
#define INIT_PARAMETERS_INCORRECT 2

enum ENUM_TERMINAL_INFO_INTEGER {
  TERMINAL_BUILD = 5,
  TERMINAL_CONNECTED = 6,
  TERMINAL_DLLS_ALLOWED = 7,
  TERMINAL_TRADE_ALLOWED = 8,
  TERMINAL_MEMORY_USED = 12,
  TERMINAL_PING_LAST = 28
};
enum ENUM_ACCOUNT_INFO_DOUBLE {
  ACCOUNT_BALANCE = 37,
  ACCOUNT_EQUITY = 40,
  ACCOUNT_MARGIN = 38,
  ACCOUNT_MARGIN_FREE = 39,
  ACCOUNT_MARGIN_LEVEL = 41
};

bool OrderSelect(int index, int select, int pool = MODE_TRADES);
int OrdersTotal();
int OrdersHistoryTotal();
int OrderTicket();
string OrderSymbol();
int OrderType();
double OrderLots();
double OrderOpenPrice();
double OrderClosePrice();
double OrderStopLoss();
double OrderTakeProfit();
int OrderMagicNumber();
string OrderComment();
datetime OrderOpenTime();
datetime OrderCloseTime();
datetime OrderExpiration();
double OrderProfit();
int OrderSend(const string &symbol, int cmd, double volume, double price, int slippage, double sl,
              double tp, const string &comment = "", int magic = 0, datetime expiration = 0,
              color arrow_color = clrNONE);
bool OrderClose(int ticket, double lots, double price, int slippage, color arrow_color = clrNONE);
bool OrderModify(int ticket, double price, double sl, double tp, datetime expiration,
                 color arrow_color = clrNONE);
bool OrderDelete(int ticket, color arrow_color = clrNONE);
double MarketInfo(const string &symbol, int type);
bool RefreshRates();
bool IsTradeAllowed();
bool IsTradeContextBusy();
bool IsConnected();
bool IsStopped();
bool IsTesting();
bool IsDllsAllowed();
void ExpertRemove();
int SymbolsTotal(bool selected);
string Symbol();
bool SymbolSelect(const string &name, bool select);
string SymbolName(int pos, bool selected);
int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER what);
int AccountNumber();
double AccountBalance();
double AccountEquity();
double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE what);
string AccountCurrency();
int AccountLeverage();
string AccountCompany();
bool EventSetMillisecondTimer(int ms);
void EventKillTimer();

#define FILE_READ 1
#define FILE_WRITE 2
#define FILE_BIN 4
#define FILE_CSV 8
#define FILE_TXT 16
#define FILE_ANSI 32
#define FILE_UNICODE 64
#define FILE_SHARE_READ 128
#define FILE_SHARE_WRITE 256
#define FILE_REWRITE 512
#define FILE_COMMON 4096
#define INVALID_HANDLE (-1)
int FileOpen(const string &name, int flags, short delimiter = '\t', uint codepage = CP_ACP);
void FileClose(int handle);
uint FileWriteString(int handle, const string &text, int length = -1);
string FileReadString(int handle, int length = -1);
bool FileIsEnding(int handle);
ulong FileSize(int handle);
uint FileReadArray(int handle, MqlArray<uchar> &array, int start = 0, int count = WHOLE_ARRAY);
uint FileWriteArray(int handle, const MqlArray<uchar> &array, int start = 0,
                    int count = WHOLE_ARRAY);
void FileFlush(int handle);
bool FileIsExist(const string &name, int common_flag = 0);
bool FileDelete(const string &name, int common_flag = 0);
bool FileMove(const string &src, int common_flag, const string &dst, int mode_flags);
bool FolderCreate(const string &name, int common_flag = 0);

int WebRequest(const string &method, const string &url, const string &headers, int timeout,
               const MqlArray<char> &data, MqlArray<char> &result, string &result_headers);

// Event handlers the EA defines (called by the terminal runner).
int OnInit();
void OnDeinit(const int reason);
void OnTimer();
void OnTick();

#pragma GCC diagnostic pop
