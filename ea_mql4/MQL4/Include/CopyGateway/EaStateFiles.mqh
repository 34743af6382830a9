//+------------------------------------------------------------------+
//| EaStateFiles.mqh -- CCopyGatewayEa: the state files of one       |
//| account (state.json, outbox.json, master.json, journal.json,     |
//| tickets.json) and attaching to the account.                      |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EASTATEFILES_MQH
#define COPYGATEWAY_EASTATEFILES_MQH

#include <CopyGateway/EaDeclaration.mqh>

void CCopyGatewayEa::SaveState(const long ack)
  {
   CJsonWriter w;
   w.BeginObject();
   w.KeyInt("v",1);
   w.KeyStr("account_id",m_account);
   w.KeyInt("ack_seq",ack);
   w.EndObject();
   if(m_store.Write("state.json",w.Text()))
      m_saved_ack=ack;
  }

long CCopyGatewayEa::LoadAck(void)
  {
   string text;
   long ack=0;
   CJsonDoc doc;
   if(m_store.Read("state.json",text) && doc.Parse(text))
      doc.GetLong(doc.Root(),"ack_seq",ack);
   return(ack);
  }

//--- ExecutionReports / OrderIntents not yet confirmed (queued, or written
//--- without a Receipt), loaded at start, so a crash or a dropped socket loses
//--- none: a follower's outbox.json; a master keeps them in master.json with
//--- the order view they came from (one atomic write: a restart neither loses
//--- an intent nor derives it again under a new id)
void CCopyGatewayEa::SaveOutbox(void)
  {
   if(m_account=="")
      return;
   if(IsMaster())
      SaveMaster();
   else
      m_store.Write("outbox.json",m_outbox.Serialize());
  }

void CCopyGatewayEa::SaveMaster(void)
  {
   string text=m_master.Serialize(m_outbox.Serialize());
   if(text!=m_saved_master && m_store.Write("master.json",text))
      m_saved_master=text;
  }

void CCopyGatewayEa::LoadOutbox(void)
  {
   string text;
   if(IsMaster())
     {
      CJsonDoc doc;
      if(m_store.Read("master.json",text) && doc.Parse(text) && doc.Kind(doc.Find(doc.Root(),"outbox"))==JSON_OBJECT &&
         !m_outbox.Load(doc.RawText(doc.Find(doc.Root(),"outbox"))))
         Print("CopyGateway: the unconfirmed intents in master.json are unreadable");
      return;
     }
   if(m_store.Read("outbox.json",text) && !m_outbox.Load(text))
      Print("CopyGateway: outbox.json is unreadable; unconfirmed reports come again with their commands");
  }

//--- tickets first: a crash between the two leaves the journal's in-flight
//--- marker, and the command tag finds the order again
void CCopyGatewayEa::SaveFollower(void)
  {
   m_store.Write("tickets.json",m_tickets.Serialize());
   m_store.Write("journal.json",m_journal.Serialize());
  }

//--- everything up to `ack` was delivered
void CCopyGatewayEa::OnDelivered(const long ack)
  {
   if(ack!=m_saved_ack)
      SaveState(ack);
  }

//--- Everything that depends on the account: files, key, saved state.
void CCopyGatewayEa::AttachAccount(void)
  {
   m_account=(m_cfg.account_id!="" ? m_cfg.account_id : IntegerToString(AccountNumber()));
   m_store.Init("CopyGateway\\"+CgAccountFolder(m_account));
   bool generated=false;
   m_key=m_keys.LoadOrCreate(m_store,m_cfg.preshared_key,m_cfg.use_os_random,generated);
   if(generated)
      Print("CopyGateway: generated a new session key (",m_store.Path("session.key"),"); it needs back-office approval");
   uchar seed[],digest[],none[];
   StringToCharArray(m_key+IntegerToString((long)GetMicrosecondCount())+IntegerToString(m_clock.NowMs()),seed,0,WHOLE_ARRAY,CP_UTF8);
   CryptEncode(CRYPT_HASH_SHA256,seed,none,digest);
   ArrayResize(digest,4);
   m_launch=CgHex(digest);
   MathSrand((int)((digest[0]<<24)|(digest[1]<<16)|(digest[2]<<8)|digest[3]));
   m_session.Reset((uint)((digest[1]<<16)|(digest[2]<<8)|digest[3])|1);
   long ack=LoadAck();
   m_saved_ack=ack;
   m_inbox.Init(ack);
   string text;
   m_journal.Clear();
   m_tickets.Clear();
   if(m_store.Read("journal.json",text))
      m_journal.Load(text);
   if(m_store.Read("tickets.json",text))
      m_tickets.Load(text);
   m_master.Reset();
   m_saved_master="";
   if(IsMaster() && m_store.Read("master.json",text) && m_master.Load(text))
      m_saved_master=text;
   LoadOutbox();
   Print("CopyGateway: account ",m_account,", last seq ",ack);
  }

#endif
