//+------------------------------------------------------------------+
//| MessageEncoders.mqh -- wire contract v1: EA->server envelopes    |
//| and REST request bodies, snapshot parts, the type of an encoded  |
//| envelope.                                                        |
//| Pure code (C++-compatible subset), tested on Linux with          |
//| fixtures generated from the gateway's pydantic models.           |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_MESSAGEENCODERS_MQH
#define COPYGATEWAY_MESSAGEENCODERS_MQH

#include <CopyGateway/Messages.mqh>
#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>

//+------------------------------------------------------------------+
//| Encoders (EA->server). Absent optional fields are omitted.       |
//+------------------------------------------------------------------+
void CgBeginEnvelope(CJsonWriter &w,const string type,const string id,const long ts)
  {
   w.Reset();
   w.BeginObject();
   w.KeyStr("type",type);
   w.KeyStr("id",id);
   w.KeyInt("ts",ts);
   w.Key("payload");
   w.BeginObject();
  }
string CgEndEnvelope(CJsonWriter &w)
  {
   w.EndObject();
   w.EndObject();
   return(w.Text());
  }

void CgWriteAccount(CJsonWriter &w,const SAccountInfo &a)
  {
   w.BeginObject();
   w.KeyNum("balance",MathMax(a.balance,0.0),2);
   w.KeyNum("equity",MathMax(a.equity,0.0),2);
   if(a.currency!="")
      w.KeyStr("currency",a.currency);
   if(a.leverage>0)
      w.KeyInt("leverage",a.leverage);
   w.EndObject();
  }

string CgEncodeInitRequest(const string id,const long ts,const long ack_seq,const SAccountInfo &account,
                           const SSymbolSpec &symbols[],const bool receipts=false)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"InitRequest",id,ts);
   w.KeyInt("ack_seq",ack_seq);
   if(receipts)
      w.KeyBool("receipts",true);  // ask for a Receipt per ExecutionReport/OrderIntent
   w.Key("account");
   CgWriteAccount(w,account);
   w.Key("symbols");
   w.BeginArray();
   for(int i=0;i<ArraySize(symbols);i++)
     {
      w.BeginObject();
      w.KeyStr("symbol",symbols[i].symbol);
      w.KeyInt("digits",symbols[i].digits);
      w.KeyNum("point",symbols[i].point,10);
      w.KeyNum("contract_size",symbols[i].contract_size,CG_NUM_DIGITS);
      w.KeyNum("lot_step",symbols[i].lot_step,CG_NUM_DIGITS);
      w.KeyNum("min_lot",symbols[i].min_lot,CG_NUM_DIGITS);
      w.KeyNum("max_lot",symbols[i].max_lot,CG_NUM_DIGITS);
      if(symbols[i].tick_value>0)
         w.KeyNum("tick_value",symbols[i].tick_value,CG_NUM_DIGITS);
      if(symbols[i].tick_size>0)
         w.KeyNum("tick_size",symbols[i].tick_size,10);
      w.EndObject();
     }
   w.EndArray();
   return(CgEndEnvelope(w));
  }

string CgEncodeHeartbeat(const string id,const long ts,const long ack_seq,const SAccountInfo &account)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"StatusHeartbeat",id,ts);
   w.KeyInt("ack_seq",ack_seq);
   w.KeyNum("balance",MathMax(account.balance,0.0),2);
   w.KeyNum("equity",MathMax(account.equity,0.0),2);
   if(account.margin_level>0)
      w.KeyNum("margin_level",account.margin_level,2);
   return(CgEndEnvelope(w));
  }

string CgEncodeOrderIntent(const string id,const long ts,const SOrderIntent &p)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"OrderIntent",id,ts);
   w.KeyStr("action",p.action);
   w.KeyInt("ticket",p.ticket);
   w.KeyStr("symbol",p.symbol);
   w.KeyStr("side",p.side);
   w.KeyStr("order_type",p.order_type);
   w.KeyNum("volume",p.volume,CG_NUM_DIGITS);
   w.KeyNum("price",p.price,CG_NUM_DIGITS);
   if(p.sl>0)
      w.KeyNum("sl",p.sl,CG_NUM_DIGITS);
   if(p.tp>0)
      w.KeyNum("tp",p.tp,CG_NUM_DIGITS);
   if(p.has_magic)
      w.KeyInt("magic",p.magic);
   if(p.comment!="")
      w.KeyStr("comment",p.comment);
   if(p.new_ticket>0)
      w.KeyInt("new_ticket",p.new_ticket);
   if(p.from_pending)
      w.KeyBool("from_pending",true);
   if(p.event_time_ms>0)
      w.KeyInt("event_time_ms",p.event_time_ms);
   return(CgEndEnvelope(w));
  }

string CgEncodeExecutionReport(const string id,const long ts,const SExecutionReport &p)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"ExecutionReport",id,ts);
   w.KeyStr("command_id",p.command_id);
   w.KeyStr("status",p.status);
   if(p.ticket>0)
      w.KeyInt("ticket",p.ticket);
   if(p.symbol!="")
      w.KeyStr("symbol",p.symbol);
   if(p.volume>=0)
      w.KeyNum("volume",p.volume,CG_NUM_DIGITS);
   if(p.price>=0)
      w.KeyNum("price",p.price,CG_NUM_DIGITS);
   if(p.has_error_code)
      w.KeyInt("error_code",p.error_code);
   if(p.error_message!="")
      w.KeyStr("error_message",StringSubstr(p.error_message,0,512));
   if(p.new_ticket>0)
      w.KeyInt("new_ticket",p.new_ticket);
   if(p.executed_at_ms>0)
      w.KeyInt("executed_at_ms",p.executed_at_ms);
   return(CgEndEnvelope(w));
  }

void CgWriteRow(CJsonWriter &w,const SOrderRow &r,const bool pending)
  {
   w.BeginObject();
   w.KeyInt("ticket",r.ticket);
   w.KeyStr("symbol",r.symbol);
   w.KeyStr("side",CgSideOf(r.type));
   if(pending)
     {
      w.KeyStr("order_type",CgOrderTypeOf(r.type));
      w.KeyNum("price",r.open_price,CG_NUM_DIGITS);
     }
   w.KeyNum("volume",r.lots,CG_NUM_DIGITS);
   w.KeyNum("open_price",r.open_price,CG_NUM_DIGITS);
   if(r.sl>0)
      w.KeyNum("sl",r.sl,CG_NUM_DIGITS);
   if(r.tp>0)
      w.KeyNum("tp",r.tp,CG_NUM_DIGITS);
   w.KeyInt("magic",r.magic);
   if(r.comment!="")
      w.KeyStr("comment",StringSubstr(r.comment,0,64));
   w.EndObject();
  }

//--- The size of `s` in UTF-8 bytes, as the gateway measures a message
int CgUtf8Bytes(const string s)
  {
   uchar bytes[];
   int n=StringToCharArray(s,bytes,0,WHOLE_ARRAY,CP_UTF8);
   return(n>0 ? n-1 : 0);
  }

//--- A SyncSnapshot of rows[from..to): positions, then pending orders. With a
//--- `snapshot_id` it is part `part` of `parts` of one snapshot sent in parts.
string CgEncodeSnapshotRange(const string id,const long ts,const SOrderRow &rows[],
                             const int from,const int to,const SAccountInfo &account,
                             const string request_id,const string snapshot_id,
                             const int part,const int parts)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"SyncSnapshot",id,ts);
   w.Key("positions");
   w.BeginArray();
   for(int i=from;i<to;i++)
      if(!CgIsPending(rows[i].type))
         CgWriteRow(w,rows[i],false);
   w.EndArray();
   w.Key("orders");
   w.BeginArray();
   for(int i=from;i<to;i++)
      if(CgIsPending(rows[i].type))
         CgWriteRow(w,rows[i],true);
   w.EndArray();
   w.KeyNum("balance",MathMax(account.balance,0.0),2);
   w.KeyNum("equity",MathMax(account.equity,0.0),2);
   if(request_id!="")
      w.KeyStr("request_id",request_id);
   if(snapshot_id!="")
     {
      w.KeyStr("snapshot_id",snapshot_id);
      w.KeyInt("part",part);
      w.KeyInt("parts",parts);
     }
   return(CgEndEnvelope(w));
  }

string CgEncodeSyncSnapshot(const string id,const long ts,const SOrderRow &rows[],
                            const SAccountInfo &account,const string request_id)
  {
   return(CgEncodeSnapshotRange(id,ts,rows,0,ArraySize(rows),account,request_id,"",0,0));
  }

//--- The rows in wire order (positions first, then pending orders), so that each
//--- part of a snapshot is one contiguous range of them.
void CgSnapshotWireOrder(const SOrderRow &rows[],SOrderRow &ordered[])
  {
   int n=ArraySize(rows);
   ArrayResize(ordered,n);
   int k=0;
   for(int i=0;i<n;i++)
      if(!CgIsPending(rows[i].type))
         ordered[k++]=rows[i];
   for(int i=0;i<n;i++)
      if(CgIsPending(rows[i].type))
         ordered[k++]=rows[i];
  }

//--- Bytes one row takes in a snapshot (its JSON and a comma).
int CgSnapshotRowBytes(const SOrderRow &r)
  {
   CJsonWriter w;
   CgWriteRow(w,r,CgIsPending(r.type));
   return(CgUtf8Bytes(w.Text())+1);
  }

//--- Splits rows (in wire order) into parts whose rows take at most `budget`
//--- bytes each (a row is never split): starts[k] is the first row of part k.
//--- Returns the number of parts (1 for no rows).
int CgPlanSnapshotParts(const SOrderRow &rows[],const int budget,int &starts[])
  {
   ArrayResize(starts,1);
   starts[0]=0;
   int used=0;
   for(int i=0;i<ArraySize(rows);i++)
     {
      int bytes=CgSnapshotRowBytes(rows[i]);
      if(used>0 && used+bytes>budget)
        {
         int k=ArraySize(starts);
         ArrayResize(starts,k+1,16);
         starts[k]=i;
         used=0;
        }
      used+=bytes;
     }
   return(ArraySize(starts));
  }

string CgEncodeErrorAlert(const string id,const long ts,const string code,const string severity,
                          const string message,const string ref_id)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"ErrorAlert",id,ts);
   w.KeyStr("code",StringSubstr(code,0,64));
   w.KeyStr("severity",severity);
   w.KeyStr("message",StringSubstr(message,0,1024));
   if(ref_id!="")
      w.KeyStr("ref_id",StringSubstr(ref_id,0,128));
   return(CgEndEnvelope(w));
  }

string CgEncodeShutdownNotice(const string id,const long ts,const string reason)
  {
   CJsonWriter w;
   CgBeginEnvelope(w,"ShutdownNotice",id,ts);
   w.KeyStr("reason",reason);
   return(CgEndEnvelope(w));
  }

//--- POST /ea-gateway/v1/sessions body
string CgEncodeSessionCreate(const string account_id,const string key,const int terminal_build)
  {
   CJsonWriter w;
   w.BeginObject();
   w.KeyStr("account_id",account_id);
   w.KeyStr("auth_method","account_session_key");
   w.Key("credentials");
   w.BeginObject();
   w.KeyStr("key",key);
   w.EndObject();
   w.Key("client");
   w.BeginObject();
   w.KeyStr("platform","mt4");
   w.KeyStr("ea_version",CG_EA_VERSION);
   w.KeyInt("terminal_build",terminal_build);
   w.EndObject();
   w.EndObject();
   return(w.Text());
  }

//--- POST .../exchange body; `messages` are already-encoded envelopes
string CgEncodeExchange(const string &messages[],const int count,const long ack_seq,const int wait_ms)
  {
   CJsonWriter w;
   w.BeginObject();
   w.Key("messages");
   w.BeginArray();
   for(int i=0;i<count && i<ArraySize(messages);i++)
      w.Raw(messages[i]);
   w.EndArray();
   w.KeyInt("ack_seq",ack_seq);
   w.KeyInt("wait_ms",wait_ms);
   w.EndObject();
   return(w.Text());
  }

//--- The type of an encoded envelope (CgBeginEnvelope writes it first), "" if none
string CgEnvelopeType(const string json)
  {
   string marker="\"type\":\"";
   int at=StringFind(json,marker);
   if(at<0)
      return("");
   at+=StringLen(marker);
   int end=StringFind(json,"\"",at);
   return(end<0 ? "" : StringSubstr(json,at,end-at));
  }

//--- The envelope id of an encoded ExecutionReport, "" for any other message
string CgReportId(const string json)
  {
   if(StringFind(json,"\"ExecutionReport\"")<0)
      return("");
   CJsonDoc doc;
   string type,id;
   if(!doc.Parse(json) || !doc.GetString(doc.Root(),"type",type) || type!="ExecutionReport")
      return("");
   doc.GetString(doc.Root(),"id",id);
   return(id);
  }

#endif
