// shim_core.cpp -- strings, conversions, math, time, crypto of mql4_shim.h.
#include "mql4_shim.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

// ---------------------------------------------------------------- utf
static std::u16string utf8_to_units(const char *s, size_t n) {
  std::u16string out;
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6 && i + 1 < n) {
      cp = ((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
      len = 2;
    } else if ((c >> 4) == 14 && i + 2 < n) {
      cp = ((c & 0x0Fu) << 12) | (((unsigned char)s[i + 1] & 0x3Fu) << 6) |
           ((unsigned char)s[i + 2] & 0x3Fu);
      len = 3;
    } else if ((c >> 3) == 30 && i + 3 < n) {
      cp = ((c & 0x07u) << 18) | (((unsigned char)s[i + 1] & 0x3Fu) << 12) |
           (((unsigned char)s[i + 2] & 0x3Fu) << 6) | ((unsigned char)s[i + 3] & 0x3Fu);
      len = 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back((char16_t)(0xD800 + (cp >> 10)));
      out.push_back((char16_t)(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back((char16_t)cp);
    }
    i += len;
  }
  return out;
}

static std::string units_to_utf8(const std::u16string &u) {
  std::string out;
  for (size_t i = 0; i < u.size(); i++) {
    uint32_t cp = u[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < u.size() && u[i + 1] >= 0xDC00 &&
        u[i + 1] < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (u[i + 1] - 0xDC00);
      i++;
    }
    if (cp < 0x80) {
      out.push_back((char)cp);
    } else if (cp < 0x800) {
      out.push_back((char)(0xC0 | (cp >> 6)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back((char)(0xE0 | (cp >> 12)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else {
      out.push_back((char)(0xF0 | (cp >> 18)));
      out.push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

string::string(const char *utf8) {
  if (utf8 != nullptr) m_units = utf8_to_units(utf8, std::strlen(utf8));
}
std::string string::utf8() const { return units_to_utf8(m_units); }
string operator+(const string &a, const string &b) { return string(a.units() + b.units()); }
string operator+(const char *a, const string &b) { return string(a) + b; }
string operator+(const string &a, const char *b) { return a + string(b); }
bool operator==(const string &a, const char *b) { return a == string(b); }
bool operator!=(const string &a, const char *b) { return a != string(b); }

// ---------------------------------------------------------------- errors
static thread_local int g_last_error = 0;
int GetLastError() {
  int e = g_last_error;
  g_last_error = 0;
  return e;
}
void ResetLastError() { g_last_error = 0; }
void SetUserError(ushort user_error) { g_last_error = ERR_USER_ERROR_FIRST + user_error; }
void mql_set_last_error(int code) { g_last_error = code; }

void mql_array_out_of_range(int index, int size) {
  std::fprintf(stderr, "CRITICAL: array out of range (index %d, size %d)\n", index, size);
  std::abort();
}

// ---------------------------------------------------------------- strings
int StringLen(const string &s) { return (int)s.units().size(); }
string StringSubstr(const string &s, int start, int length) {
  int n = (int)s.units().size();
  if (start < 0 || start >= n) return string();
  if (length < 0 || start + length > n) length = n - start;
  return string(s.units().substr((size_t)start, (size_t)length));
}
int StringFind(const string &s, const string &match, int start) {
  if (start < 0) start = 0;
  if (start > (int)s.units().size()) return -1;
  size_t p = s.units().find(match.units(), (size_t)start);
  return p == std::u16string::npos ? -1 : (int)p;
}
ushort StringGetCharacter(const string &s, int pos) {
  if (pos < 0 || pos >= (int)s.units().size()) return 0;
  return (ushort)s.units()[(size_t)pos];
}
bool StringSetCharacter(string &s, int pos, ushort ch) {
  int n = (int)s.units().size();
  if (pos < 0 || pos > n) return false;
  if (pos == n)
    s.units().push_back((char16_t)ch);
  else
    s.units()[(size_t)pos] = (char16_t)ch;
  return true;
}
int StringReplace(string &s, const string &find, const string &replacement) {
  if (find.units().empty()) return 0;
  int count = 0;
  size_t pos = 0;
  std::u16string &u = s.units();
  while ((pos = u.find(find.units(), pos)) != std::u16string::npos) {
    u.replace(pos, find.units().size(), replacement.units());
    pos += replacement.units().size();
    count++;
  }
  return count;
}
int StringSplit(const string &s, ushort separator, MqlArray<string> &result) {
  result.items().clear();
  if (s.units().empty()) return 0;
  std::u16string cur;
  for (char16_t c : s.units()) {
    if (c == separator) {
      result.items().push_back(string(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  result.items().push_back(string(cur));
  return (int)result.items().size();
}
bool StringToLower(string &s) {
  for (auto &c : s.units())
    if (c >= 'A' && c <= 'Z') c = (char16_t)(c + 32);
  return true;
}
bool StringToUpper(string &s) {
  for (auto &c : s.units())
    if (c >= 'a' && c <= 'z') c = (char16_t)(c - 32);
  return true;
}
bool StringAdd(string &s, const string &add) {
  s += add;
  return true;
}
string ShortToString(ushort ch) { return string(std::u16string(1, (char16_t)ch)); }
string CharToString(uchar ch) { return string(std::u16string(1, (char16_t)ch)); }

template <typename C>
static int to_char_array(const string &s, MqlArray<C> &out, int start, int count, uint cp) {
  // Like MQL4: the terminating zero is copied too when count is -1.
  std::string bytes;
  if (cp == CP_UTF8) {
    bytes = s.utf8();
  } else {
    for (char16_t c : s.units()) bytes.push_back(c < 256 ? (char)c : '?');
  }
  bytes.push_back('\0');
  int n = (int)bytes.size();
  if (count >= 0 && count < n) n = count;
  if ((int)out.items().size() < start + n) out.items().resize((size_t)(start + n));
  for (int i = 0; i < n; i++) out.items()[(size_t)(start + i)] = (C)bytes[(size_t)i];
  return n;
}
int StringToCharArray(const string &s, MqlArray<uchar> &out, int start, int count, uint cp) {
  return to_char_array(s, out, start, count, cp);
}
int StringToCharArray(const string &s, MqlArray<char> &out, int start, int count, uint cp) {
  return to_char_array(s, out, start, count, cp);
}
template <typename C>
static string from_char_array(const MqlArray<C> &a, int start, int count, uint cp) {
  int n = (int)a.items().size();
  if (start < 0 || start >= n) return string();
  int end = (count < 0 || start + count > n) ? n : start + count;
  std::string bytes;
  for (int i = start; i < end; i++) {
    char c = (char)a.items()[(size_t)i];
    if (c == '\0') break;  // MQL4 stops at the first zero
    bytes.push_back(c);
  }
  if (cp == CP_UTF8) return string(utf8_to_units(bytes.data(), bytes.size()));
  std::u16string u;
  for (char c : bytes) u.push_back((char16_t)(unsigned char)c);
  return string(u);
}
string CharArrayToString(const MqlArray<uchar> &a, int start, int count, uint cp) {
  return from_char_array(a, start, count, cp);
}
string CharArrayToString(const MqlArray<char> &a, int start, int count, uint cp) {
  return from_char_array(a, start, count, cp);
}
string IntegerToString(long number, int str_len, ushort fill_symbol) {
  std::string s = std::to_string(number);
  while ((int)s.size() < str_len) s.insert(s.begin(), (char)fill_symbol);
  return string(s.c_str());
}
string DoubleToString(double value, int digits) {
  char buf[64];
  if (digits < 0 || digits > 16)
    std::snprintf(buf, sizeof buf, "%.*e", digits < 0 ? -digits : 8, value);
  else
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return string(buf);
}
long StringToInteger(const string &s) { return std::strtol(s.utf8().c_str(), nullptr, 10); }
// MQL4 does not document exponents ("1e-05") in StringToDouble; the shim reads
// only the plain part before one, so EA code that relies on them fails here.
double StringToDouble(const string &s) {
  std::string text = s.utf8();
  std::string::size_type e = text.find_first_of("eE");
  if (e != std::string::npos) text.resize(e);
  return std::strtod(text.c_str(), nullptr);
}

// ---------------------------------------------------------------- math
double MathAbs(double v) { return std::fabs(v); }
double MathMax(double a, double b) { return a > b ? a : b; }
double MathMin(double a, double b) { return a < b ? a : b; }
double MathRound(double v) { return std::round(v); }
double MathFloor(double v) { return std::floor(v); }
double MathCeil(double v) { return std::ceil(v); }
double MathPow(double b, double e) { return std::pow(b, e); }
double MathSqrt(double v) { return std::sqrt(v); }
double MathMod(double a, double b) { return std::fmod(a, b); }
double MathLog10(double v) { return std::log10(v); }
static unsigned g_rand_state = 1;
int MathRand() {
  g_rand_state = g_rand_state * 214013u + 2531011u;  // MSVC rand(), like the terminal
  return (int)((g_rand_state >> 16) & 0x7FFF);
}
void MathSrand(int seed) { g_rand_state = (unsigned)seed; }
double NormalizeDouble(double value, int digits) {
  if (digits < 0) digits = 0;
  if (digits > 8) digits = 8;
  double p = std::pow(10.0, digits);
  return std::round(value * p) / p;
}

// ---------------------------------------------------------------- time
static const auto g_start = std::chrono::steady_clock::now();
uint GetTickCount() {
  return (uint)std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
ulong GetMicrosecondCount() {
  return (ulong)std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now() - g_start)
      .count();
}
datetime TimeGMT() {
  return (datetime)std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
datetime TimeLocal() { return TimeGMT(); }
void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// ---------------------------------------------------------------- crypto
static const char *B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const std::vector<uchar> &in, std::vector<uchar> &out) {
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
    for (int k = 3; k >= 0; k--) out.push_back((uchar)B64[(v >> (6 * k)) & 63]);
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = (uint32_t)in[i] << 16;
    out.push_back((uchar)B64[(v >> 18) & 63]);
    out.push_back((uchar)B64[(v >> 12) & 63]);
    out.push_back('=');
    out.push_back('=');
  } else if (i + 2 == in.size()) {
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
    out.push_back((uchar)B64[(v >> 18) & 63]);
    out.push_back((uchar)B64[(v >> 12) & 63]);
    out.push_back((uchar)B64[(v >> 6) & 63]);
    out.push_back('=');
  }
}

static inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static std::vector<uchar> md_pad(const std::vector<uchar> &in) {
  std::vector<uchar> m(in);
  uint64_t bits = (uint64_t)in.size() * 8;
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  for (int i = 7; i >= 0; i--) m.push_back((uchar)(bits >> (8 * i)));
  return m;
}

static void sha1(const std::vector<uchar> &in, std::vector<uchar> &out) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::vector<uchar> m = md_pad(in);
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = ((uint32_t)m[off + 4 * i] << 24) | ((uint32_t)m[off + 4 * i + 1] << 16) |
             ((uint32_t)m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  for (uint32_t v : h)
    for (int k = 3; k >= 0; k--) out.push_back((uchar)(v >> (8 * k)));
}

static void sha256(const std::vector<uchar> &in, std::vector<uchar> &out) {
  static const uint32_t K[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::vector<uchar> m = md_pad(in);
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
      w[i] = ((uint32_t)m[off + 4 * i] << 24) | ((uint32_t)m[off + 4 * i + 1] << 16) |
             ((uint32_t)m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
      uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + S1 + ch + K[i] + w[i];
      uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = S0 + mj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  for (uint32_t v : h)
    for (int k = 3; k >= 0; k--) out.push_back((uchar)(v >> (8 * k)));
}

int CryptEncode(ENUM_CRYPT_METHOD method, const MqlArray<uchar> &data, const MqlArray<uchar> &key,
                MqlArray<uchar> &result) {
  (void)key;
  std::vector<uchar> out;
  switch (method) {
    case CRYPT_BASE64:
      base64(data.items(), out);
      break;
    case CRYPT_HASH_SHA1:
      sha1(data.items(), out);
      break;
    case CRYPT_HASH_SHA256:
      sha256(data.items(), out);
      break;
    default:
      mql_set_last_error(4029);
      return 0;
  }
  result.items() = out;
  return (int)out.size();
}

// ---------------------------------------------------------------- printing
std::string mql_print_arg(const string &v) { return v.utf8(); }
std::string mql_print_arg(const char *v) { return v; }
std::string mql_print_arg(bool v) { return v ? "true" : "false"; }
std::string mql_print_arg(char v) { return std::to_string((int)v); }
std::string mql_print_arg(uchar v) { return std::to_string((int)v); }
std::string mql_print_arg(short v) { return std::to_string(v); }
std::string mql_print_arg(ushort v) { return std::to_string(v); }
std::string mql_print_arg(int v) { return std::to_string(v); }
std::string mql_print_arg(uint v) { return std::to_string(v); }
std::string mql_print_arg(long v) { return std::to_string(v); }
std::string mql_print_arg(ulong v) { return std::to_string(v); }
std::string mql_print_arg(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.8g", v);
  return buf;
}

const char *mql_input_raw(const char *name) {
  std::string key = std::string("MQL_INPUT_") + name;
  return std::getenv(key.c_str());
}

datetime TimeCurrent() { return TimeGMT(); }

void mql_emit(const char *kind, const std::string &line) {
  std::fprintf(stderr, "[%s] %s\n", kind, line.c_str());
  std::fflush(stderr);
}
