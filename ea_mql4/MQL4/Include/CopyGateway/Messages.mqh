//+------------------------------------------------------------------+
//| Messages.mqh -- wire contract v1: message kinds, the structs of  |
//| EA->server and server->EA payloads and REST answers, MT4 order   |
//| type helpers.                                                    |
//| Pure code (C++-compatible subset), tested on Linux with          |
//| fixtures generated from the gateway's pydantic models.           |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_MESSAGES_MQH
#define COPYGATEWAY_MESSAGES_MQH

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
   long              retry_after_ms; // ErrorAlert.retry.after_ms (resend_after), -1 = absent
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

#endif
