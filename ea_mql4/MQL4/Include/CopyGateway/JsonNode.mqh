//+------------------------------------------------------------------+
//| JsonNode.mqh -- what CJsonDoc parses JSON into: the value kinds, |
//| one node of a document, the value of JSON number text.           |
//|                                                                  |
//| Written in the C++-compatible subset of MQL4 (no pointers, no    |
//| fixed-size arrays) so it is compiled and tested with g++ on      |
//| Linux against fixtures generated from the gateway's models.      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_JSONNODE_MQH
#define COPYGATEWAY_JSONNODE_MQH

#define JSON_NULL   0
#define JSON_BOOL   1
#define JSON_NUMBER 2
#define JSON_STRING 3
#define JSON_ARRAY  4
#define JSON_OBJECT 5

//--- The value of JSON number text. StringToDouble's handling of exponents is not
//--- documented, so only the plain mantissa goes through it and the exponent is
//--- applied here (divide by an exact power of ten for negative exponents).
double JsonNumberValue(const string text)
  {
   int e=StringFind(text,"e");
   if(e<0)
      e=StringFind(text,"E");
   if(e<0)
      return(StringToDouble(text));
   double mantissa=StringToDouble(StringSubstr(text,0,e));
   int pos=e+1;
   bool negative=false;
   if(pos<StringLen(text) && StringGetCharacter(text,pos)=='-')
     {
      negative=true;
      pos++;
     }
   else
      if(pos<StringLen(text) && StringGetCharacter(text,pos)=='+')
         pos++;
   int exponent=(int)StringToInteger(StringSubstr(text,pos));
   double scale=MathPow(10.0,(double)exponent);
   return(negative ? mantissa/scale : mantissa*scale);
  }

//--- One node of a parsed document; nodes refer to each other by index.
struct SJsonNode
  {
   int               kind;        // JSON_*
   int               parent;      // index of the container, -1 for the root
   int               first_child; // first element/member, -1 if none
   int               last_child;  // last element/member, -1 if none
   int               next;        // next sibling, -1 if none
   int               count;       // number of elements/members
   string            key;         // member name when the parent is an object
   string            text;        // decoded string, number text, "true"/"false"
   int               start;       // offset of the value in the source text
   int               end;         // offset just past the value
  };

#endif
