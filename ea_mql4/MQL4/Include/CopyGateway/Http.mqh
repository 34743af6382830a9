//+------------------------------------------------------------------+
//| Http.mqh -- JSON over MT4's WebRequest() (HTTP/HTTPS only,       |
//| synchronous, the URL must be allowed in Tools > Options >        |
//| Expert Advisors, EAs only -- not in indicators or the tester).   |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_HTTP_MQH
#define COPYGATEWAY_HTTP_MQH

#include <CopyGateway/Core.mqh>

class CHttpClient
  {
private:
   int               m_timeout_ms;   // WebRequest timeout
   int               m_last_error;   // GetLastError() of the last failed call
   bool              m_warned_4060;  // the "allow this URL" alert was shown

   //--- seconds of a Retry-After header, -1 when absent
   long              RetryAfterMs(const string headers) const
     {
      string lower=headers;
      StringToLower(lower);
      int p=StringFind(lower,"retry-after:");
      if(p<0)
         return(-1);
      int eol=StringFind(lower,"\r\n",p);
      string v=StringSubstr(lower,p+12,eol<0 ? -1 : eol-p-12);
      StringReplace(v," ","");
      return(StringToInteger(v)*1000);
     }

public:
                     CHttpClient(void) : m_timeout_ms(5000),m_last_error(0),m_warned_4060(false) {}
   void              SetTimeout(const int timeout_ms) { m_timeout_ms=timeout_ms; }
   int               LastError(void) const { return(m_last_error); }
   //--- HTTP status, or -1 (see LastError()) when there was no HTTP answer.
   int               Request(const string method,const string url,const string token,const string body,
                             string &response,long &retry_after_ms)
     {
      response="";
      retry_after_ms=-1;
      string headers="Content-Type: application/json\r\nAccept: application/json\r\n";
      if(token!="")
         headers+="Authorization: Bearer "+token+"\r\n";
      char data[];
      char result[];
      string result_headers="";
      if(body!="")
        {
         int n=StringToCharArray(body,data,0,WHOLE_ARRAY,CP_UTF8);
         ArrayResize(data,n-1);  // WebRequest would send the terminating zero too
        }
      ResetLastError();
      int status=WebRequest(method,url,headers,m_timeout_ms,data,result,result_headers);
      if(status==-1)
        {
         m_last_error=GetLastError();
         if(m_last_error==ERR_FUNCTION_NOT_CONFIRMED && !m_warned_4060)
           {
            m_warned_4060=true;
            Alert("CopyGateway: add ",url," to Tools > Options > Expert Advisors > 'Allow WebRequest for listed URL' (error 4060)");
           }
         return(-1);
        }
      m_last_error=0;
      response=CharArrayToString(result,0,WHOLE_ARRAY,CP_UTF8);
      retry_after_ms=RetryAfterMs(result_headers);
      return(status);
     }
  };

#endif
