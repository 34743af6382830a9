//+------------------------------------------------------------------+
//| MessageDecoders.mqh -- wire contract v1: server->EA envelopes    |
//| and REST answers (session created, error body).                  |
//| Pure code (C++-compatible subset), tested on Linux with          |
//| fixtures generated from the gateway's pydantic models.           |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_MESSAGEDECODERS_MQH
#define COPYGATEWAY_MESSAGEDECODERS_MQH

#include <CopyGateway/Messages.mqh>
#include <CopyGateway/JsonDoc.mqh>

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
   m.retry_after_ms=-1;
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
      int retry=doc.Find(p,"retry");  // optional: {"policy": "resend_after", "after_ms": n}
      if(retry>=0 && doc.Kind(retry)==JSON_OBJECT && !CgOptLong(doc,retry,"after_ms",m.retry_after_ms))
         return(CgInvalid(m,"ErrorAlert.retry.after_ms"));
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
