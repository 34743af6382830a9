//+------------------------------------------------------------------+
//| WsTransport.mqh -- optional WebSocket transport over raw         |
//| ws2_32.dll calls (needs "Allow DLL imports"). Plain ws:// only:  |
//| MQL4 has no TLS, so use it towards a local TLS terminator (e.g.  |
//| stunnel on 127.0.0.1) that forwards to the gateway over wss://.  |
//| The host must be an IPv4 literal (no DNS resolution here).       |
//| Framing and the handshake check are pure code in WsCodec.mqh.    |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_WSTRANSPORT_MQH
#define COPYGATEWAY_WSTRANSPORT_MQH

#include <CopyGateway/Core.mqh>

//--- DLL build only (#define COPYGATE_WITH_DLL before the #include); the
//--- default build gets the inert CWsTransport at the end of this file.
#ifdef COPYGATE_WITH_DLL

#import "ws2_32.dll"
int WSAStartup(ushort version,uchar &data[]);
int WSAGetLastError(void);
int socket(int af,int type,int protocol);
int connect(int s,uchar &name[],int namelen);
int send(int s,uchar &buf[],int len,int flags);
int recv(int s,uchar &buf[],int len,int flags);
int closesocket(int s);
int ioctlsocket(int s,int cmd,uint &argp);
int select(int nfds,int &readfds[],int &writefds[],int &exceptfds[],int &timeout[]);
#import

#define CG_WSAEWOULDBLOCK 10035
#define CG_FIONBIO        (int)0x8004667E
#define CG_INVALID_SOCKET (-1)

class CWsTransport
  {
private:
   int               m_sock;        // socket handle, -1 when closed
   bool              m_started;     // WSAStartup done
   uchar             m_rx[];        // received, not yet parsed bytes
   int               m_rx_len;      // bytes used in m_rx
   uchar             m_message[];   // bytes of an unfinished (fragmented) text message
   int               m_message_len; // bytes used in m_message
   int               m_close_code;  // close code received (or 1006 on a dropped link)
   string            m_error;       // last error text
   string            m_host_port;   // "a.b.c.d:port"
   string            m_path;        // request path

   bool              ParseUrl(const string url,uchar &addr[])
     {
      if(StringSubstr(url,0,5)!="ws://")
        {
         m_error="only ws:// URLs are supported (use a local TLS terminator)";
         return(false);
        }
      string rest=StringSubstr(url,5);
      int slash=StringFind(rest,"/");
      m_host_port=(slash<0 ? rest : StringSubstr(rest,0,slash));
      m_path=(slash<0 ? "/" : StringSubstr(rest,slash));
      int colon=StringFind(m_host_port,":");
      string host=(colon<0 ? m_host_port : StringSubstr(m_host_port,0,colon));
      int port=(colon<0 ? 80 : (int)StringToInteger(StringSubstr(m_host_port,colon+1)));
      string parts[];
      if(StringSplit(host,'.',parts)!=4 || port<=0 || port>65535)
        {
         m_error="the ws:// host must be an IPv4 address";
         return(false);
        }
      ArrayResize(addr,16);
      ArrayInitialize(addr,0);
      addr[0]=2;  // AF_INET, little-endian ushort
      addr[2]=(uchar)(port>>8);
      addr[3]=(uchar)(port&0xFF);
      for(int i=0;i<4;i++)
         addr[4+i]=(uchar)StringToInteger(parts[i]);
      return(true);
     }
   bool              SendAll(const uchar &bytes[])
     {
      int total=ArraySize(bytes);
      int sent=0;
      uint deadline=GetTickCount()+5000;
      while(sent<total)
        {
         uchar chunk[];
         ArrayCopy(chunk,bytes,0,sent,total-sent);
         int n=send(m_sock,chunk,total-sent,0);
         if(n>0)
           {
            sent+=n;
            continue;
           }
         if(WSAGetLastError()!=CG_WSAEWOULDBLOCK || GetTickCount()>deadline)
           {
            Drop(1006,"send failed");
            return(false);
           }
         Sleep(5);
        }
      return(true);
     }
   //--- read what is available; false when the link dropped
   bool              Receive(void)
     {
      uchar buf[];
      ArrayResize(buf,16384);
      while(true)
        {
         int n=recv(m_sock,buf,16384,0);
         if(n>0)
           {
            if(ArraySize(m_rx)<m_rx_len+n)
               ArrayResize(m_rx,m_rx_len+n);
            for(int i=0;i<n;i++)
               m_rx[m_rx_len+i]=buf[i];
            m_rx_len+=n;
            continue;
           }
         if(n==0)
           {
            Drop(1006,"connection closed by peer");
            return(false);
           }
         if(WSAGetLastError()==CG_WSAEWOULDBLOCK)
            return(true);
         Drop(1006,"recv failed");
         return(false);
        }
      return(true);
     }
   void              Consume(const int count)
     {
      for(int i=count;i<m_rx_len;i++)
         m_rx[i-count]=m_rx[i];
      m_rx_len-=count;
     }
   void              Drop(const int code,const string why)
     {
      if(m_sock!=CG_INVALID_SOCKET)
         closesocket(m_sock);
      m_sock=CG_INVALID_SOCKET;
      if(m_close_code==0)
         m_close_code=code;
      m_error=why;
     }
   //--- wait for a pending connect: fd_set = {count, socket}, timeval = {s, us}
   bool              AwaitConnected(const int timeout_ms)
     {
      int none[],writable[],failed[],timeout[];
      ArrayResize(none,2);
      ArrayResize(writable,2);
      ArrayResize(failed,2);
      ArrayResize(timeout,2);
      none[0]=0;
      writable[0]=1;
      writable[1]=m_sock;
      failed[0]=1;
      failed[1]=m_sock;
      timeout[0]=timeout_ms/1000;
      timeout[1]=(timeout_ms%1000)*1000;
      int ready=select(0,none,writable,failed,timeout);
      if(ready==0)
        {
         Drop(1006,"connect timeout after "+IntegerToString(timeout_ms)+" ms");
         return(false);
        }
      if(ready<0 || failed[0]>0 || writable[0]==0)
        {
         Drop(1006,"connect() failed: "+IntegerToString(WSAGetLastError()));
         return(false);
        }
      return(true);
     }
   bool              SendFrame(const int opcode,const uchar &payload[])
     {
      uchar mask[],frame[];
      ArrayResize(mask,4);
      for(int i=0;i<4;i++)
         mask[i]=(uchar)(MathRand()&0xFF);
      CgWsBuildFrame(opcode,payload,mask,frame);
      return(SendAll(frame));
     }

public:
                     CWsTransport(void) : m_sock(CG_INVALID_SOCKET),m_started(false),m_rx_len(0),m_message_len(0),m_close_code(0) {}
   bool              IsOpen(void) const { return(m_sock!=CG_INVALID_SOCKET); }
   int               CloseCode(void) const { return(m_close_code); }
   string            Error(void) const { return(m_error); }

   bool              Connect(const string url,const string token,const int timeout_ms)
     {
      uchar addr[];
      m_close_code=0;
      m_rx_len=0;
      m_message_len=0;
      if(!ParseUrl(url,addr))
         return(false);
      if(!m_started)
        {
         uchar wsadata[];
         ArrayResize(wsadata,512);
         if(WSAStartup(0x0202,wsadata)!=0)
           {
            m_error="WSAStartup failed";
            return(false);
           }
         m_started=true;
        }
      m_sock=socket(2,1,6);
      if(m_sock==CG_INVALID_SOCKET)
        {
         m_error="socket() failed";
         return(false);
        }
      // non-blocking connect bounded by timeout_ms (a blocking one to a dead host
      // would freeze the terminal ~21 s): FIONBIO, then select() for writability
      uint nonblocking=1;
      ioctlsocket(m_sock,CG_FIONBIO,nonblocking);
      if(connect(m_sock,addr,16)!=0 && WSAGetLastError()!=CG_WSAEWOULDBLOCK)
        {
         Drop(1006,"connect() failed: "+IntegerToString(WSAGetLastError()));
         return(false);
        }
      if(!AwaitConnected(timeout_ms))
         return(false);
      uchar nonce[];
      ArrayResize(nonce,16);
      for(int i=0;i<16;i++)
         nonce[i]=(uchar)(MathRand()&0xFF);
      string key=CgWsKeyFrom(nonce);
      uchar request[];
      int n=StringToCharArray(CgWsHandshakeRequest(m_host_port,m_path,key,token),request,0,WHOLE_ARRAY,CP_UTF8);
      ArrayResize(request,n-1);
      if(!SendAll(request))
         return(false);
      uint deadline=GetTickCount()+(uint)timeout_ms;
      while(GetTickCount()<deadline)
        {
         if(!Receive())
            return(false);
         string text=CharArrayToString(m_rx,0,m_rx_len,CP_UTF8);
         int end=StringFind(text,"\r\n\r\n");
         if(end<0)
           {
            Sleep(10);
            continue;
           }
         int status=CgWsCheckHandshake(StringSubstr(text,0,end+2),key);
         if(status!=101)
           {
            Drop(status==401 ? 4003 : 1006,"handshake refused: HTTP "+IntegerToString(status));
            return(false);
           }
         Consume(end+4);  // the head is ASCII: characters == bytes
         return(true);
        }
      Drop(1006,"handshake timeout");
      return(false);
     }
   bool              SendText(const string text)
     {
      if(!IsOpen())
         return(false);
      uchar payload[];
      int n=StringToCharArray(text,payload,0,WHOLE_ARRAY,CP_UTF8);
      ArrayResize(payload,n-1);
      return(SendFrame(WS_OP_TEXT,payload));
     }
   //--- Complete text messages received so far are appended to `texts`.
   int               Poll(string &texts[])
     {
      int added=0;
      if(IsOpen())
         Receive();
      int pos=0;
      while(pos<m_rx_len)
        {
         int opcode=0,used=0;
         bool fin=false;
         uchar payload[];
         int r=CgWsParseFrameAt(m_rx,pos,m_rx_len,opcode,fin,payload,used);
         if(r==WS_PARSE_MORE)
            break;
         if(r==WS_PARSE_ERROR)
           {
            Shutdown(1002);  // RFC 6455: a protocol error (e.g. an unknown opcode) fails the link
            break;
           }
         pos+=used;
         if(opcode==WS_OP_TEXT || opcode==WS_OP_CONT)
           {
            CgWsAppendBytes(m_message,m_message_len,payload);
            if(fin)
              {
               int k=ArraySize(texts);
               ArrayResize(texts,k+1);
               texts[k]=CgWsMessageText(m_message,m_message_len);
               m_message_len=0;
               added++;
              }
           }
         else if(opcode==WS_OP_PING)
            SendFrame(WS_OP_PONG,payload);
         else if(opcode==WS_OP_CLOSE)
           {
            m_close_code=CgWsCloseCode(payload);
            SendFrame(WS_OP_CLOSE,payload);
            Drop(m_close_code,"closed by server");
            break;
           }
        }
      if(IsOpen())
         Consume(pos);  // one shift per poll: linear in the bytes received
      else
         m_rx_len=0;
      return(added);
     }
   void              Shutdown(const int code)
     {
      if(!IsOpen())
         return;
      uchar payload[];
      ArrayResize(payload,2);
      payload[0]=(uchar)(code>>8);
      payload[1]=(uchar)(code&0xFF);
      SendFrame(WS_OP_CLOSE,payload);
      Drop(code,"closed by client");
     }
  };

#else

//+------------------------------------------------------------------+
//| Default (DLL-free) build: no sockets. CCopyGatewayEa::Init()     |
//| refuses InpTransport=WebSocket before any of this is called.     |
//+------------------------------------------------------------------+
class CWsTransport
  {
public:
   bool              IsOpen(void) const { return(false); }
   int               CloseCode(void) const { return(0); }
   string            Error(void) const { return("this build has no WebSocket transport (compile with COPYGATE_WITH_DLL)"); }
   bool              Connect(const string url,const string token,const int timeout_ms) { return(false); }
   bool              SendText(const string text) { return(false); }
   int               Poll(string &texts[]) { return(ArrayResize(texts,0)); }
   void              Shutdown(const int code) {}
  };

#endif // COPYGATE_WITH_DLL

#endif
