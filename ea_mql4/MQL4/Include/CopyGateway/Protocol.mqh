//+------------------------------------------------------------------+
//| Protocol.mqh -- wire contract v1: message structs, encoders of   |
//| EA->server envelopes, decoders of server->EA envelopes and REST  |
//| bodies. Pure code (C++-compatible subset), tested on Linux with  |
//| fixtures generated from the gateway's pydantic models.           |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_PROTOCOL_MQH
#define COPYGATEWAY_PROTOCOL_MQH

#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>

#define CG_EA_VERSION "1.0.0"
#define CG_NUM_DIGITS 8       // decimals written for prices/lots (trailing zeros trimmed)
#define CG_SNAPSHOT_PART_BYTES 30000  // rows per SyncSnapshot part (bytes); a part stays far below 60000

//--- server->EA message kinds
#define CG_MSG_INVALID          0
#define CG_MSG_INIT_ACK         1
#define CG_MSG_STATE_CHANGE     2
#define CG_MSG_ORDER_COMMAND    3
#define CG_MSG_SNAPSHOT_REQUEST 4
#define CG_MSG_ERROR_ALERT      5
#define CG_MSG_SHUTDOWN         6
#define CG_MSG_RECEIPT          7

//--- trade direction/kind helpers over MT4 order types -------------
bool   CgIsPending(const int mt4_type) { return(mt4_type>=OP_BUYLIMIT && mt4_type<=OP_SELLSTOP); }
string CgSideOf(const int mt4_type)
  {
   return((mt4_type==OP_BUY || mt4_type==OP_BUYLIMIT || mt4_type==OP_BUYSTOP) ? "buy" : "sell");
  }
string CgOrderTypeOf(const int mt4_type)
  {
   if(mt4_type==OP_BUYLIMIT || mt4_type==OP_SELLLIMIT)
      return("limit");
   if(mt4_type==OP_BUYSTOP || mt4_type==OP_SELLSTOP)
      return("stop");
   return("market");
  }
//--- MT4 order type for side + order_type, -1 if invalid.
int CgMt4Type(const string side,const string order_type)
  {
   bool buy=(side=="buy");
   if(!buy && side!="sell")
      return(-1);
   if(order_type=="market")
      return(buy ? OP_BUY : OP_SELL);
   if(order_type=="limit")
      return(buy ? OP_BUYLIMIT : OP_SELLLIMIT);
   if(order_type=="stop")
      return(buy ? OP_BUYSTOP : OP_SELLSTOP);
   return(-1);
  }
bool CgIsAction(const string a)
  {
   return(a=="open" || a=="modify" || a=="close" || a=="place_pending" || a=="cancel_pending");
  }
bool CgIsSessionState(const string s) { return(s=="pending" || s=="authenticated" || s=="closed"); }
bool CgIsSeverity(const string s) { return(s=="info" || s=="warning" || s=="error" || s=="critical"); }

//--- EA->server payloads --------------------------------------------
struct SAccountInfo
  {
   double            balance;
   double            equity;
   double            margin_level;  // 0 = not reported
   string            currency;
   int               leverage;
  };

struct SSymbolSpec
  {
   string            symbol;
   int               digits;
   double            point;
   double            contract_size;
   double            lot_step;
   double            min_lot;
   double            max_lot;
   double            tick_value;    // 0 = not reported
   double            tick_size;     // 0 = not reported
  };

//--- One open position or pending order (snapshots, master diff).
struct SOrderRow
  {
   int               ticket;
   string            symbol;
   int               type;          // OP_*
   double            lots;
   double            open_price;
   double            sl;            // 0 = none
   double            tp;            // 0 = none
   int               magic;
   string            comment;
   datetime          open_time;
  };

struct SOrderIntent
  {
   string            action;        // open, modify, close, place_pending, cancel_pending
   int               ticket;        // master's ticket
   string            symbol;
   string            side;
   string            order_type;
   double            volume;
   double            price;
   double            sl;            // 0 = none (omitted)
   double            tp;            // 0 = none (omitted)
   int               magic;
   bool              has_magic;
   string            comment;       // "" = omitted
   int               new_ticket;    // 0 = omitted; remainder after a partial close
   bool              from_pending;  // an `open` that is the fill of an earlier place_pending
   long              event_time_ms; // 0 = omitted
  };

struct SExecutionReport
  {
   string            command_id;
   string            status;        // filled, closed, modified, placed, cancelled, rejected, expired
   int               ticket;        // 0 = omitted
   string            symbol;        // "" = omitted
   double            volume;        // <0 = omitted
   double            price;         // <0 = omitted
   int               error_code;
   bool              has_error_code;
   string            error_message; // "" = omitted
   int               new_ticket;    // 0 = omitted
   long              executed_at_ms;// 0 = omitted
  };

//--- server->EA payloads --------------------------------------------
struct SOrderCommand
  {
   string            command_id;
   string            action;
   string            symbol;
   string            side;
   string            order_type;
   double            volume;
   int               master_ticket;
   int               ticket;         // follower's ticket; 0 = absent
   double            price;          // 0 = absent
   double            sl;             // 0 = absent/none
   double            tp;             // 0 = absent/none
   bool              has_sl;         // sl was sent (a modify keeps the order's stop otherwise)
   bool              has_tp;         // tp was sent
   int               max_slippage_points; // -1 = absent
   long              expires_at;     // epoch ms; 0 = absent
   string            master_account_id;
   int               magic;
   bool              has_magic;
   string            comment;
  };

struct SServerMessage
  {
   int               kind;           // CG_MSG_*
   string            type;
   string            id;
   long              ts;
   long              seq;            // -1 = absent
   string            error;          // why it is CG_MSG_INVALID
   //--- InitAck
   string            session_id;
   string            role;           // master, follower, unassigned ("" when null)
   double            heartbeat_interval_s;
   double            heartbeat_timeout_s;  // 0 = absent
   long              max_snapshot_parts;   // 0 = absent: the gateway takes whole snapshots only
   //--- SessionStateChange
   string            state;
   string            reason;         // also ShutdownNotice.reason
   //--- OrderCommand
   SOrderCommand     command;
   //--- SyncSnapshot request
   string            request_id;
   //--- ErrorAlert
   string            code;
   string            severity;
   string            message;        // also ShutdownNotice.message
   string            ref_id;
   //--- ShutdownNotice
   double            reconnect_after_s; // -1 = absent
   //--- Receipt: the EA envelope ids the server recorded, "\n"-separated
   string            receipt_ids;
  };

//--- REST answers ----------------------------------------------------
struct SSessionCreated
  {
   string            session_id;
   string            state;
   string            session_token;
   double            heartbeat_interval_s;
   double            heartbeat_timeout_s;
  };

void CgResetReport(SExecutionReport &r)
  {
   r.command_id="";
   r.status="";
   r.ticket=0;
   r.symbol="";
   r.volume=-1;
   r.price=-1;
   r.error_code=0;
   r.has_error_code=false;
   r.error_message="";
   r.new_ticket=0;
   r.executed_at_ms=0;
  }

void CgResetIntent(SOrderIntent &p)
  {
   p.action="";
   p.ticket=0;
   p.symbol="";
   p.side="";
   p.order_type="";
   p.volume=0;
   p.price=0;
   p.sl=0;
   p.tp=0;
   p.magic=0;
   p.has_magic=false;
   p.comment="";
   p.new_ticket=0;
   p.from_pending=false;
   p.event_time_ms=0;
  }

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

//+------------------------------------------------------------------+
//| Decoders (server->EA). Required fields of the contract are       |
//| required here too; a failing message becomes CG_MSG_INVALID.     |
//+------------------------------------------------------------------+
void CgResetMessage(SServerMessage &m)
  {
   m.kind=CG_MSG_INVALID;
   m.type="";
   m.id="";
   m.ts=0;
   m.seq=-1;
   m.error="";
   m.receipt_ids="";
   m.session_id="";
   m.role="";
   m.heartbeat_interval_s=0;
   m.heartbeat_timeout_s=0;
   m.max_snapshot_parts=0;
   m.state="";
   m.reason="";
   m.request_id="";
   m.code="";
   m.severity="";
   m.message="";
   m.ref_id="";
   m.reconnect_after_s=-1;
   m.command.command_id="";
   m.command.action="";
   m.command.symbol="";
   m.command.side="";
   m.command.order_type="";
   m.command.volume=0;
   m.command.master_ticket=0;
   m.command.ticket=0;
   m.command.price=0;
   m.command.sl=0;
   m.command.has_sl=false;
   m.command.has_tp=false;
   m.command.tp=0;
   m.command.max_slippage_points=-1;
   m.command.expires_at=0;
   m.command.master_account_id="";
   m.command.magic=0;
   m.command.has_magic=false;
   m.command.comment="";
  }

bool CgInvalid(SServerMessage &m,const string why)
  {
   m.kind=CG_MSG_INVALID;
   m.error=why;
   return(false);
  }

//--- optional number member: absent/null keeps `out`; wrong kind fails
bool CgOptNumber(const CJsonDoc &doc,const int obj,const string key,double &out)
  {
   int n=doc.Find(obj,key);
   if(n<0 || doc.Kind(n)==JSON_NULL)
      return(true);
   if(doc.Kind(n)!=JSON_NUMBER)
      return(false);
   out=doc.Num(n);
   return(true);
  }
bool CgOptString(const CJsonDoc &doc,const int obj,const string key,string &out)
  {
   int n=doc.Find(obj,key);
   if(n<0 || doc.Kind(n)==JSON_NULL)
      return(true);
   if(doc.Kind(n)!=JSON_STRING)
      return(false);
   out=doc.Str(n);
   return(true);
  }
bool CgOptLong(const CJsonDoc &doc,const int obj,const string key,long &out)
  {
   int n=doc.Find(obj,key);
   if(n<0 || doc.Kind(n)==JSON_NULL)
      return(true);
   if(!doc.IsInteger(n))
      return(false);
   out=doc.Long(n);
   return(true);
  }

bool CgDecodeOrderCommand(const CJsonDoc &doc,const int p,SServerMessage &m)
  {
   SOrderCommand c;
   c.command_id="";
   c.action="";
   c.symbol="";
   c.side="";
   c.order_type="";
   c.volume=0;
   c.master_ticket=0;
   c.ticket=0;
   c.price=0;
   c.sl=0;
   c.tp=0;
   c.max_slippage_points=-1;
   c.expires_at=0;
   c.master_account_id="";
   c.magic=0;
   c.has_magic=false;
   c.comment="";
   long master_ticket=0;
   if(!doc.GetString(p,"command_id",c.command_id) || c.command_id=="" || StringLen(c.command_id)>128)
      return(CgInvalid(m,"OrderCommand.command_id"));
   if(!doc.GetString(p,"action",c.action) || !CgIsAction(c.action))
      return(CgInvalid(m,"OrderCommand.action"));
   if(!doc.GetString(p,"symbol",c.symbol) || c.symbol=="" || StringLen(c.symbol)>32)
      return(CgInvalid(m,"OrderCommand.symbol"));
   if(!doc.GetString(p,"side",c.side) || (c.side!="buy" && c.side!="sell"))
      return(CgInvalid(m,"OrderCommand.side"));
   if(!doc.GetString(p,"order_type",c.order_type) || CgMt4Type(c.side,c.order_type)<0)
      return(CgInvalid(m,"OrderCommand.order_type"));
   if(!doc.GetNumber(p,"volume",c.volume) || c.volume<=0)
      return(CgInvalid(m,"OrderCommand.volume"));
   if(!doc.GetLong(p,"master_ticket",master_ticket) || master_ticket<0)
      return(CgInvalid(m,"OrderCommand.master_ticket"));
   c.master_ticket=(int)master_ticket;
   long ticket=0;
   bool ticketed=(c.action=="modify" || c.action=="close" || c.action=="cancel_pending");
   int tn=doc.Find(p,"ticket");
   if(tn>=0 && doc.Kind(tn)!=JSON_NULL)
     {
      if(!doc.IsInteger(tn) || doc.Long(tn)<0)
         return(CgInvalid(m,"OrderCommand.ticket"));
      ticket=doc.Long(tn);
     }
   else if(ticketed)
      return(CgInvalid(m,"OrderCommand.ticket required for "+c.action));
   c.ticket=(int)ticket;
   long slip=-1;
   long magic=0;
   if(!CgOptNumber(doc,p,"price",c.price) || !CgOptNumber(doc,p,"sl",c.sl) || !CgOptNumber(doc,p,"tp",c.tp))
      return(CgInvalid(m,"OrderCommand.price/sl/tp"));
   c.has_sl=(doc.Kind(doc.Find(p,"sl"))==JSON_NUMBER);
   c.has_tp=(doc.Kind(doc.Find(p,"tp"))==JSON_NUMBER);
   if(!CgOptLong(doc,p,"max_slippage_points",slip) || !CgOptLong(doc,p,"expires_at",c.expires_at))
      return(CgInvalid(m,"OrderCommand.max_slippage_points/expires_at"));
   if(!CgOptString(doc,p,"master_account_id",c.master_account_id) || !CgOptString(doc,p,"comment",c.comment))
      return(CgInvalid(m,"OrderCommand.master_account_id/comment"));
   int mn=doc.Find(p,"magic");
   if(mn>=0 && doc.Kind(mn)!=JSON_NULL)
     {
      if(!CgOptLong(doc,p,"magic",magic))
         return(CgInvalid(m,"OrderCommand.magic"));
      c.magic=(int)magic;
      c.has_magic=true;
     }
   c.max_slippage_points=(int)slip;
   m.command=c;
   return(true);
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

//--- Decode one server envelope (node `env` of `doc`) into `m`.
bool CgDecodeServerMessage(const CJsonDoc &doc,const int env,SServerMessage &m)
  {
   CgResetMessage(m);
   if(doc.Kind(env)!=JSON_OBJECT)
      return(CgInvalid(m,"envelope is not an object"));
   doc.GetString(env,"id",m.id);
   if(!doc.GetString(env,"type",m.type))
      return(CgInvalid(m,"envelope.type"));
   if(m.id=="" || StringLen(m.id)>128)
      return(CgInvalid(m,"envelope.id"));
   if(!doc.GetLong(env,"ts",m.ts) || m.ts<0)
      return(CgInvalid(m,"envelope.ts"));
   int sn=doc.Find(env,"seq");
   if(sn>=0 && doc.Kind(sn)!=JSON_NULL)
     {
      if(!doc.IsInteger(sn) || doc.Long(sn)<0)
         return(CgInvalid(m,"envelope.seq"));
      m.seq=doc.Long(sn);
     }
   int p=doc.Find(env,"payload");
   if(doc.Kind(p)!=JSON_OBJECT)
      return(CgInvalid(m,"envelope.payload"));
   if(m.type=="InitAck")
     {
      if(!doc.GetString(p,"session_id",m.session_id))
         return(CgInvalid(m,"InitAck.session_id"));
      int rn=doc.Find(p,"role");
      if(rn<0)
         return(CgInvalid(m,"InitAck.role"));
      if(doc.Kind(rn)!=JSON_NULL)
        {
         m.role=doc.Str(rn);
         if(m.role!="master" && m.role!="follower" && m.role!="unassigned")
            return(CgInvalid(m,"InitAck.role"));
        }
      if(!doc.GetNumber(p,"heartbeat_interval_s",m.heartbeat_interval_s))
         return(CgInvalid(m,"InitAck.heartbeat_interval_s"));
      if(!CgOptNumber(doc,p,"heartbeat_timeout_s",m.heartbeat_timeout_s))
         return(CgInvalid(m,"InitAck.heartbeat_timeout_s"));
      if(!CgOptLong(doc,p,"max_snapshot_parts",m.max_snapshot_parts) || m.max_snapshot_parts<0)
         return(CgInvalid(m,"InitAck.max_snapshot_parts"));
      m.kind=CG_MSG_INIT_ACK;
     }
   else if(m.type=="SessionStateChange")
     {
      if(!doc.GetString(p,"state",m.state) || !CgIsSessionState(m.state))
         return(CgInvalid(m,"SessionStateChange.state"));
      if(!CgOptString(doc,p,"reason",m.reason))
         return(CgInvalid(m,"SessionStateChange.reason"));
      m.kind=CG_MSG_STATE_CHANGE;
     }
   else if(m.type=="OrderCommand")
     {
      if(!CgDecodeOrderCommand(doc,p,m))
         return(false);
      m.kind=CG_MSG_ORDER_COMMAND;
     }
   else if(m.type=="SyncSnapshot")
     {
      if(!doc.GetString(p,"request_id",m.request_id) || m.request_id=="" || StringLen(m.request_id)>128)
         return(CgInvalid(m,"SyncSnapshot.request_id"));
      if(!CgOptString(doc,p,"reason",m.reason))
         return(CgInvalid(m,"SyncSnapshot.reason"));
      m.kind=CG_MSG_SNAPSHOT_REQUEST;
     }
   else if(m.type=="ErrorAlert")
     {
      if(!doc.GetString(p,"code",m.code) || m.code=="")
         return(CgInvalid(m,"ErrorAlert.code"));
      if(!doc.GetString(p,"severity",m.severity) || !CgIsSeverity(m.severity))
         return(CgInvalid(m,"ErrorAlert.severity"));
      if(!doc.GetString(p,"message",m.message))
         return(CgInvalid(m,"ErrorAlert.message"));
      if(!CgOptString(doc,p,"ref_id",m.ref_id))
         return(CgInvalid(m,"ErrorAlert.ref_id"));
      m.kind=CG_MSG_ERROR_ALERT;
     }
   else if(m.type=="ShutdownNotice")
     {
      if(!doc.GetString(p,"reason",m.reason) || m.reason=="")
         return(CgInvalid(m,"ShutdownNotice.reason"));
      if(!CgOptNumber(doc,p,"reconnect_after_s",m.reconnect_after_s) || !CgOptString(doc,p,"message",m.message))
         return(CgInvalid(m,"ShutdownNotice.reconnect_after_s/message"));
      m.kind=CG_MSG_SHUTDOWN;
     }
   else if(m.type=="Receipt")
     {
      int ids=doc.Find(p,"ids");
      if(doc.Kind(ids)!=JSON_ARRAY)
         return(CgInvalid(m,"Receipt.ids"));
      for(int e=doc.First(ids);e>=0;e=doc.Next(e))
        {
         if(doc.Kind(e)!=JSON_STRING)
            return(CgInvalid(m,"Receipt.ids"));
         m.receipt_ids+=(m.receipt_ids=="" ? "" : "\n")+doc.Str(e);
        }
      m.kind=CG_MSG_RECEIPT;
     }
   else
      return(CgInvalid(m,"unknown type "+m.type));
   return(true);
  }

//--- 201 answer of POST /sessions
bool CgDecodeSessionCreated(const string body,SSessionCreated &out)
  {
   CJsonDoc doc;
   if(!doc.Parse(body))
      return(false);
   int r=doc.Root();
   out.heartbeat_timeout_s=0;
   if(!doc.GetString(r,"session_id",out.session_id) || !doc.GetString(r,"state",out.state) ||
      !doc.GetString(r,"session_token",out.session_token) ||
      !doc.GetNumber(r,"heartbeat_interval_s",out.heartbeat_interval_s))
      return(false);
   CgOptNumber(doc,r,"heartbeat_timeout_s",out.heartbeat_timeout_s);
   return(CgIsSessionState(out.state) && out.session_id!="" && out.session_token!="");
  }

//--- {"error": {"code", "message"}}; false when the body is not one
bool CgDecodeErrorBody(const string body,string &code,string &message)
  {
   code="";
   message="";
   CJsonDoc doc;
   if(!doc.Parse(body))
      return(false);
   int e=doc.Find(doc.Root(),"error");
   if(doc.Kind(e)!=JSON_OBJECT || !doc.GetString(e,"code",code))
      return(false);
   doc.GetString(e,"message",message);
   return(true);
  }

#endif
