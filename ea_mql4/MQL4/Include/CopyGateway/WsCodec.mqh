//+------------------------------------------------------------------+
//| WsCodec.mqh -- RFC 6455 client side as pure byte functions:      |
//| opening handshake text and check, masked frame building, frame   |
//| parsing (text, continuation, ping, pong, close). The socket I/O  |
//| is in WsTransport.mqh (ws2_32.dll imports).                      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_WSCODEC_MQH
#define COPYGATEWAY_WSCODEC_MQH

#define WS_OP_CONT  0
#define WS_OP_TEXT  1
#define WS_OP_BIN   2
#define WS_OP_CLOSE 8
#define WS_OP_PING  9
#define WS_OP_PONG  10

#define WS_MAX_FRAME 1048576   // refuse frames over 1 MiB

#define WS_PARSE_MORE  0      // need more bytes
#define WS_PARSE_FRAME 1      // one frame parsed
#define WS_PARSE_ERROR -1     // protocol error: close the connection

//--- base64(SHA-1(key + GUID)), the expected Sec-WebSocket-Accept.
string CgWsAcceptFor(const string key_b64)
  {
   uchar data[],hash[],b64[],none[];
   StringToCharArray(key_b64+"258EAFA5-E914-47DA-95CA-C5AB0DC85B11",data,0,WHOLE_ARRAY,CP_UTF8);
   ArrayResize(data,ArraySize(data)-1);  // drop the terminating zero
   if(CryptEncode(CRYPT_HASH_SHA1,data,none,hash)<=0)
      return("");
   if(CryptEncode(CRYPT_BASE64,hash,none,b64)<=0)
      return("");
   return(CharArrayToString(b64,0,WHOLE_ARRAY,CP_UTF8));
  }

//--- Sec-WebSocket-Key from 16 nonce bytes.
string CgWsKeyFrom(const uchar &nonce[])
  {
   uchar b64[],none[];
   if(CryptEncode(CRYPT_BASE64,nonce,none,b64)<=0)
      return("");
   return(CharArrayToString(b64,0,WHOLE_ARRAY,CP_UTF8));
  }

string CgWsHandshakeRequest(const string host_port,const string path,const string key_b64,const string token)
  {
   return("GET "+path+" HTTP/1.1\r\n"+
          "Host: "+host_port+"\r\n"+
          "Upgrade: websocket\r\n"+
          "Connection: Upgrade\r\n"+
          "Sec-WebSocket-Key: "+key_b64+"\r\n"+
          "Sec-WebSocket-Version: 13\r\n"+
          "Authorization: Bearer "+token+"\r\n\r\n");
  }

//--- Checks a response head (up to the blank line): 101 and the accept value.
//--- Returns the HTTP status (101 = ok), or -1 when the accept value is wrong.
int CgWsCheckHandshake(const string head,const string key_b64)
  {
   if(StringSubstr(head,0,5)!="HTTP/")
      return(-1);
   int sp=StringFind(head," ");
   int status=(int)StringToInteger(StringSubstr(head,sp+1,3));
   if(status!=101)
      return(status);
   string lower=head;
   StringToLower(lower);
   int p=StringFind(lower,"sec-websocket-accept:");
   if(p<0)
      return(-1);
   int eol=StringFind(head,"\r\n",p);
   string value=StringSubstr(head,p+21,(eol<0 ? -1 : eol-p-21));
   StringReplace(value," ","");
   return(value==CgWsAcceptFor(key_b64) ? 101 : -1);
  }

//--- A masked client frame (FIN set) with `payload`, appended to `out`.
void CgWsBuildFrame(const int opcode,const uchar &payload[],const uchar &mask[],uchar &out[])
  {
   int n=ArraySize(payload);
   int start=ArraySize(out);
   int head=(n<126 ? 2 : (n<65536 ? 4 : 10));
   ArrayResize(out,start+head+4+n);
   out[start]=(uchar)(0x80|(opcode&0x0F));
   if(n<126)
      out[start+1]=(uchar)(0x80|n);
   else if(n<65536)
     {
      out[start+1]=(uchar)(0x80|126);
      out[start+2]=(uchar)((n>>8)&0xFF);
      out[start+3]=(uchar)(n&0xFF);
     }
   else
     {
      out[start+1]=(uchar)(0x80|127);
      for(int k=0;k<8;k++)
         out[start+2+k]=(uchar)(k<4 ? 0 : (n>>(8*(7-k)))&0xFF);
     }
   for(int k=0;k<4;k++)
      out[start+head+k]=mask[k];
   for(int i=0;i<n;i++)
      out[start+head+4+i]=(uchar)(payload[i]^mask[i%4]);
  }

//--- Parse one frame from buf[start..end) in place (the caller moves an offset on,
//--- so a burst of frames costs linear time). Server frames must not be masked.
int CgWsParseFrameAt(const uchar &buf[],const int start,const int end,int &opcode,bool &fin,uchar &payload[],int &consumed)
  {
   consumed=0;
   int len=end-start;
   if(len<2)
      return(WS_PARSE_MORE);
   int b0=buf[start];
   int b1=buf[start+1];
   if((b0&0x70)!=0 || (b1&0x80)!=0)
      return(WS_PARSE_ERROR);  // reserved bits or a masked server frame
   fin=((b0&0x80)!=0);
   opcode=(b0&0x0F);
   long n=(b1&0x7F);
   int pos=2;
   if(n==126)
     {
      if(len<4)
         return(WS_PARSE_MORE);
      n=((long)buf[start+2]<<8)|buf[start+3];
      pos=4;
     }
   else if(n==127)
     {
      if(len<10)
         return(WS_PARSE_MORE);
      n=0;
      for(int k=0;k<8;k++)
         n=(n<<8)|buf[start+2+k];
      pos=10;
     }
   if(opcode!=WS_OP_CONT && opcode!=WS_OP_TEXT && opcode!=WS_OP_BIN && opcode!=WS_OP_CLOSE &&
      opcode!=WS_OP_PING && opcode!=WS_OP_PONG)
      return(WS_PARSE_ERROR);  // unknown opcode: RFC 6455 fails the connection (1002)
   if(n>WS_MAX_FRAME)
      return(WS_PARSE_ERROR);
   if(opcode>=8 && (n>125 || !fin))
      return(WS_PARSE_ERROR);  // control frames are short and unfragmented
   if(len<pos+n)
      return(WS_PARSE_MORE);
   ArrayResize(payload,(int)n);
   for(int i=0;i<(int)n;i++)
      payload[i]=buf[start+pos+i];
   consumed=pos+(int)n;
   return(WS_PARSE_FRAME);
  }
int CgWsParseFrame(const uchar &buf[],const int len,int &opcode,bool &fin,uchar &payload[],int &consumed)
  {
   return(CgWsParseFrameAt(buf,0,len,opcode,fin,payload,consumed));
  }

//--- Append a fragment's bytes to a message; the text is decoded once it is complete
//--- (a UTF-8 sequence may be split between fragments).
void CgWsAppendBytes(uchar &message[],int &length,const uchar &payload[])
  {
   int n=ArraySize(payload);
   if(ArraySize(message)<length+n)
      ArrayResize(message,length+n,4096);
   if(n>0)
      ArrayCopy(message,payload,length,0,n);
   length+=n;
  }
string CgWsMessageText(const uchar &message[],const int length)
  {
   return(length>0 ? CharArrayToString(message,0,length,CP_UTF8) : "");
  }

//--- Close code of a close frame payload (1005 when absent).
int CgWsCloseCode(const uchar &payload[])
  {
   if(ArraySize(payload)<2)
      return(1005);
   return((payload[0]<<8)|payload[1]);
  }

#endif
