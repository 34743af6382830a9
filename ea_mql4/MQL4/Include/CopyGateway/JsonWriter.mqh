//+------------------------------------------------------------------+
//| JsonWriter.mqh -- a small JSON writer (CJsonWriter) and the text |
//| of JSON numbers and strings.                                     |
//|                                                                  |
//| Written in the C++-compatible subset of MQL4 (no pointers, no    |
//| fixed-size arrays) so it is compiled and tested with g++ on      |
//| Linux against fixtures generated from the gateway's models.      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_JSONWRITER_MQH
#define COPYGATEWAY_JSONWRITER_MQH

//--- Format a double as the shortest JSON number with at most `digits` decimals.
string JsonNumber(const double value,const int digits)
  {
   string s=DoubleToString(value,digits);
   if(StringFind(s,".")>=0)
     {
      int n=StringLen(s);
      while(n>0 && StringGetCharacter(s,n-1)=='0')
         n--;
      if(n>0 && StringGetCharacter(s,n-1)=='.')
         n--;
      s=StringSubstr(s,0,n);
     }
   if(s=="-0" || s=="")
      s="0";
   return(s);
  }

//--- Quote and escape a string for JSON (non-ASCII is kept; UTF-8 on the wire).
string JsonQuote(const string value)
  {
   string out="\"";
   int n=StringLen(value);
   int run=0;
   for(int i=0;i<n;i++)
     {
      ushort c=StringGetCharacter(value,i);
      string esc="";
      if(c=='"')
         esc="\\\"";
      else if(c=='\\')
         esc="\\\\";
      else if(c=='\n')
         esc="\\n";
      else if(c=='\r')
         esc="\\r";
      else if(c=='\t')
         esc="\\t";
      else if(c<0x20)
        {
         string hex="0123456789abcdef";
         esc="\\u00"+StringSubstr(hex,c>>4,1)+StringSubstr(hex,c&15,1);
        }
      if(esc!="")
        {
         if(i>run)
            out+=StringSubstr(value,run,i-run);
         out+=esc;
         run=i+1;
        }
     }
   if(n>run)
      out+=StringSubstr(value,run,n-run);
   out+="\"";
   return(out);
  }

//+------------------------------------------------------------------+
//| CJsonWriter: builds compact JSON text; commas are automatic.     |
//+------------------------------------------------------------------+
class CJsonWriter
  {
private:
   string            m_out;        // text written so far
   bool              m_first[];    // per open container: no member written yet
   int               m_depth;      // number of open containers
   bool              m_after_key;  // a key was written, its value comes next

   void              BeforeValue(void)
     {
      if(m_after_key)
        {
         m_after_key=false;
         return;
        }
      if(m_depth>0)
        {
         if(!m_first[m_depth-1])
            m_out+=",";
         m_first[m_depth-1]=false;
        }
     }
   void              OpenContainer(const string bracket)
     {
      BeforeValue();
      m_out+=bracket;
      m_depth++;
      if(ArraySize(m_first)<m_depth)
         ArrayResize(m_first,m_depth,16);
      m_first[m_depth-1]=true;
     }

public:
                     CJsonWriter(void) : m_out(""),m_depth(0),m_after_key(false) {}
   void              Reset(void) { m_out=""; m_depth=0; m_after_key=false; }
   string            Text(void) const { return(m_out); }
   void              BeginObject(void) { OpenContainer("{"); }
   void              BeginArray(void) { OpenContainer("["); }
   void              EndObject(void) { m_out+="}"; m_depth--; }
   void              EndArray(void) { m_out+="]"; m_depth--; }
   void              Key(const string key)
     {
      BeforeValue();
      m_out+=JsonQuote(key)+":";
      m_after_key=true;
     }
   void              Str(const string value) { BeforeValue(); m_out+=JsonQuote(value); }
   void              Int(const long value) { BeforeValue(); m_out+=IntegerToString(value); }
   void              Num(const double value,const int digits) { BeforeValue(); m_out+=JsonNumber(value,digits); }
   void              Bool(const bool value) { BeforeValue(); m_out+=(value ? "true" : "false"); }
   void              Null(void) { BeforeValue(); m_out+="null"; }
   //--- already-encoded JSON (e.g. a stored envelope)
   void              Raw(const string json) { BeforeValue(); m_out+=json; }
   void              KeyStr(const string key,const string value) { Key(key); Str(value); }
   void              KeyInt(const string key,const long value) { Key(key); Int(value); }
   void              KeyNum(const string key,const double value,const int digits) { Key(key); Num(value,digits); }
   void              KeyBool(const string key,const bool value) { Key(key); Bool(value); }
   void              KeyRaw(const string key,const string json) { Key(key); Raw(json); }
  };

#endif
