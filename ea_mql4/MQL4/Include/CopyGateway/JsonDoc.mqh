//+------------------------------------------------------------------+
//| JsonDoc.mqh -- CJsonDoc, a pointer-free JSON reader.             |
//|                                                                  |
//| Written in the C++-compatible subset of MQL4 (no pointers, no    |
//| fixed-size arrays) so it is compiled and tested with g++ on      |
//| Linux against fixtures generated from the gateway's models.      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_JSONDOC_MQH
#define COPYGATEWAY_JSONDOC_MQH

#include <CopyGateway/JsonNode.mqh>

#define JSON_MAX_DEPTH 64

//+------------------------------------------------------------------+
//| CJsonDoc: parses one JSON text into a flat array of nodes.       |
//| Strict RFC 8259 grammar, depth limit, no pointers.               |
//+------------------------------------------------------------------+
class CJsonDoc
  {
private:
   SJsonNode         m_nodes[];   // all nodes; 0 is the root
   int               m_count;     // nodes in use
   string            m_src;       // source text
   int               m_pos;       // parse cursor
   int               m_len;       // source length
   string            m_error;     // first error, "" when the parse succeeded

   bool              Fail(const string what)
     {
      if(m_error=="")
         m_error=what+" at offset "+IntegerToString(m_pos);
      return(false);
     }
   void              SkipWs(void)
     {
      while(m_pos<m_len)
        {
         ushort c=StringGetCharacter(m_src,m_pos);
         if(c!=' ' && c!='\t' && c!='\n' && c!='\r')
            break;
         m_pos++;
        }
     }
   int               NewNode(const int kind,const int parent,const string key)
     {
      if(m_count>=ArraySize(m_nodes))
         ArrayResize(m_nodes,m_count+1,m_count+64);
      int i=m_count;
      m_count++;
      m_nodes[i].kind=kind;
      m_nodes[i].parent=parent;
      m_nodes[i].first_child=-1;
      m_nodes[i].last_child=-1;
      m_nodes[i].next=-1;
      m_nodes[i].count=0;
      m_nodes[i].key=key;
      m_nodes[i].text="";
      m_nodes[i].start=m_pos;
      m_nodes[i].end=m_pos;
      if(parent>=0)
        {
         if(m_nodes[parent].last_child>=0)
            m_nodes[m_nodes[parent].last_child].next=i;
         else
            m_nodes[parent].first_child=i;
         m_nodes[parent].last_child=i;
         m_nodes[parent].count++;
        }
      return(i);
     }
   int               HexValue(const ushort c) const
     {
      if(c>='0' && c<='9')
         return(c-'0');
      if(c>='a' && c<='f')
         return(c-'a'+10);
      if(c>='A' && c<='F')
         return(c-'A'+10);
      return(-1);
     }
   bool              ParseString(string &out)
     {
      // m_pos is on the opening quote
      m_pos++;
      out="";
      int run=m_pos;
      while(m_pos<m_len)
        {
         ushort c=StringGetCharacter(m_src,m_pos);
         if(c=='"')
           {
            if(m_pos>run)
               out+=StringSubstr(m_src,run,m_pos-run);
            m_pos++;
            return(true);
           }
         if(c<0x20)
            return(Fail("control character in string"));
         if(c!='\\')
           {
            m_pos++;
            continue;
           }
         if(m_pos>run)
            out+=StringSubstr(m_src,run,m_pos-run);
         m_pos++;
         if(m_pos>=m_len)
            return(Fail("unterminated escape"));
         ushort e=StringGetCharacter(m_src,m_pos);
         m_pos++;
         if(e=='"')
            out+="\"";
         else if(e=='\\')
            out+="\\";
         else if(e=='/')
            out+="/";
         else if(e=='b')
            out+=ShortToString(8);
         else if(e=='f')
            out+=ShortToString(12);
         else if(e=='n')
            out+="\n";
         else if(e=='r')
            out+="\r";
         else if(e=='t')
            out+="\t";
         else if(e=='u')
           {
            if(m_pos+4>m_len)
               return(Fail("short \\u escape"));
            int code=0;
            for(int k=0;k<4;k++)
              {
               int h=HexValue(StringGetCharacter(m_src,m_pos+k));
               if(h<0)
                  return(Fail("bad \\u escape"));
               code=code*16+h;
              }
            m_pos+=4;
            // UTF-16 code unit; a surrogate pair arrives as two escapes
            out+=ShortToString((ushort)code);
           }
         else
            return(Fail("bad escape"));
         run=m_pos;
        }
      return(Fail("unterminated string"));
     }
   bool              IsDigit(const ushort c) const { return(c>='0' && c<='9'); }
   bool              ParseNumber(const int node)
     {
      int start=m_pos;
      if(m_pos<m_len && StringGetCharacter(m_src,m_pos)=='-')
         m_pos++;
      if(m_pos>=m_len || !IsDigit(StringGetCharacter(m_src,m_pos)))
         return(Fail("bad number"));
      if(StringGetCharacter(m_src,m_pos)=='0')
         m_pos++;
      else
         while(m_pos<m_len && IsDigit(StringGetCharacter(m_src,m_pos)))
            m_pos++;
      if(m_pos<m_len && StringGetCharacter(m_src,m_pos)=='.')
        {
         m_pos++;
         if(m_pos>=m_len || !IsDigit(StringGetCharacter(m_src,m_pos)))
            return(Fail("bad fraction"));
         while(m_pos<m_len && IsDigit(StringGetCharacter(m_src,m_pos)))
            m_pos++;
        }
      if(m_pos<m_len && (StringGetCharacter(m_src,m_pos)=='e' || StringGetCharacter(m_src,m_pos)=='E'))
        {
         m_pos++;
         if(m_pos<m_len && (StringGetCharacter(m_src,m_pos)=='+' || StringGetCharacter(m_src,m_pos)=='-'))
            m_pos++;
         if(m_pos>=m_len || !IsDigit(StringGetCharacter(m_src,m_pos)))
            return(Fail("bad exponent"));
         while(m_pos<m_len && IsDigit(StringGetCharacter(m_src,m_pos)))
            m_pos++;
        }
      m_nodes[node].text=StringSubstr(m_src,start,m_pos-start);
      return(true);
     }
   bool              Literal(const string word)
     {
      int n=StringLen(word);
      if(StringSubstr(m_src,m_pos,n)!=word)
         return(Fail("bad literal"));
      m_pos+=n;
      return(true);
     }
   bool              ParseValue(const int parent,const string key,const int depth)
     {
      if(depth>JSON_MAX_DEPTH)
         return(Fail("nesting too deep"));
      SkipWs();
      if(m_pos>=m_len)
         return(Fail("unexpected end"));
      ushort c=StringGetCharacter(m_src,m_pos);
      int node=-1;
      if(c=='{')
        {
         node=NewNode(JSON_OBJECT,parent,key);
         m_pos++;
         SkipWs();
         if(m_pos<m_len && StringGetCharacter(m_src,m_pos)=='}')
            m_pos++;
         else
            while(true)
              {
               SkipWs();
               if(m_pos>=m_len || StringGetCharacter(m_src,m_pos)!='"')
                  return(Fail("expected member name"));
               string name;
               if(!ParseString(name))
                  return(false);
               SkipWs();
               if(m_pos>=m_len || StringGetCharacter(m_src,m_pos)!=':')
                  return(Fail("expected ':'"));
               m_pos++;
               if(!ParseValue(node,name,depth+1))
                  return(false);
               SkipWs();
               if(m_pos<m_len && StringGetCharacter(m_src,m_pos)==',')
                 {
                  m_pos++;
                  continue;
                 }
               if(m_pos<m_len && StringGetCharacter(m_src,m_pos)=='}')
                 {
                  m_pos++;
                  break;
                 }
               return(Fail("expected ',' or '}'"));
              }
        }
      else if(c=='[')
        {
         node=NewNode(JSON_ARRAY,parent,key);
         m_pos++;
         SkipWs();
         if(m_pos<m_len && StringGetCharacter(m_src,m_pos)==']')
            m_pos++;
         else
            while(true)
              {
               if(!ParseValue(node,"",depth+1))
                  return(false);
               SkipWs();
               if(m_pos<m_len && StringGetCharacter(m_src,m_pos)==',')
                 {
                  m_pos++;
                  continue;
                 }
               if(m_pos<m_len && StringGetCharacter(m_src,m_pos)==']')
                 {
                  m_pos++;
                  break;
                 }
               return(Fail("expected ',' or ']'"));
              }
        }
      else if(c=='"')
        {
         node=NewNode(JSON_STRING,parent,key);
         string value;
         if(!ParseString(value))
            return(false);
         m_nodes[node].text=value;
        }
      else if(c=='t')
        {
         node=NewNode(JSON_BOOL,parent,key);
         if(!Literal("true"))
            return(false);
         m_nodes[node].text="true";
        }
      else if(c=='f')
        {
         node=NewNode(JSON_BOOL,parent,key);
         if(!Literal("false"))
            return(false);
         m_nodes[node].text="false";
        }
      else if(c=='n')
        {
         node=NewNode(JSON_NULL,parent,key);
         if(!Literal("null"))
            return(false);
        }
      else
        {
         node=NewNode(JSON_NUMBER,parent,key);
         if(!ParseNumber(node))
            return(false);
        }
      m_nodes[node].end=m_pos;
      return(true);
     }

public:
                     CJsonDoc(void) : m_count(0),m_src(""),m_pos(0),m_len(0),m_error("") {}
   //--- Parse `text`; false (and Error()) on any syntax error or trailing garbage.
   bool              Parse(const string text)
     {
      m_count=0;
      m_src=text;
      m_pos=0;
      m_len=StringLen(text);
      m_error="";
      if(!ParseValue(-1,"",0))
        {
         m_count=0;
         return(false);
        }
      SkipWs();
      if(m_pos!=m_len)
        {
         Fail("trailing characters");
         m_count=0;
         return(false);
        }
      return(true);
     }
   string            Error(void) const { return(m_error); }
   int               Root(void) const { return(m_count>0 ? 0 : -1); }
   int               Kind(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].kind : -1); }
   int               Count(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].count : 0); }
   int               First(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].first_child : -1); }
   int               Next(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].next : -1); }
   string            KeyOf(const int node) const { return(node>=0 && node<m_count ? m_nodes[node].key : ""); }
   //--- The exact source text of a value (to store or forward it unchanged).
   string            RawText(const int node) const
     {
      if(node<0 || node>=m_count)
         return("");
      return(StringSubstr(m_src,m_nodes[node].start,m_nodes[node].end-m_nodes[node].start));
     }
   //--- Member `key` of object `obj`, -1 if absent (the last one wins on duplicates).
   int               Find(const int obj,const string key) const
     {
      if(Kind(obj)!=JSON_OBJECT)
         return(-1);
      int found=-1;
      for(int c=m_nodes[obj].first_child;c>=0;c=m_nodes[c].next)
         if(m_nodes[c].key==key)
            found=c;
      return(found);
     }
   string            Str(const int node) const { return(Kind(node)==JSON_STRING ? m_nodes[node].text : ""); }
   double            Num(const int node) const { return(Kind(node)==JSON_NUMBER ? JsonNumberValue(m_nodes[node].text) : 0.0); }
   bool              IsInteger(const int node) const
     {
      if(Kind(node)!=JSON_NUMBER)
         return(false);
      string t=m_nodes[node].text;
      return(StringFind(t,".")<0 && StringFind(t,"e")<0 && StringFind(t,"E")<0 && StringLen(t)<=18);
     }
   long              Long(const int node) const { return(IsInteger(node) ? StringToInteger(m_nodes[node].text) : 0); }
   bool              Bool(const int node) const { return(Kind(node)==JSON_BOOL && m_nodes[node].text=="true"); }
   //--- Typed member look-ups: true only when present with the right kind.
   bool              GetString(const int obj,const string key,string &out) const
     {
      int n=Find(obj,key);
      if(Kind(n)!=JSON_STRING)
         return(false);
      out=m_nodes[n].text;
      return(true);
     }
   bool              GetNumber(const int obj,const string key,double &out) const
     {
      int n=Find(obj,key);
      if(Kind(n)!=JSON_NUMBER)
         return(false);
      out=JsonNumberValue(m_nodes[n].text);
      return(true);
     }
   bool              GetLong(const int obj,const string key,long &out) const
     {
      int n=Find(obj,key);
      if(!IsInteger(n))
         return(false);
      out=StringToInteger(m_nodes[n].text);
      return(true);
     }
   bool              GetBool(const int obj,const string key,bool &out) const
     {
      int n=Find(obj,key);
      if(Kind(n)!=JSON_BOOL)
         return(false);
      out=(m_nodes[n].text=="true");
      return(true);
     }
  };

#endif
